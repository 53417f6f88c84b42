#!/usr/bin/env bash
# rtmp-test-server.sh — a real RTMP ingest on loopback for the stream tests and the
# benchmark: nginx with libnginx-mod-rtmp in the foreground, everything (config, pid, logs,
# temp dirs, its own HLS output) under one directory.
#
#   scripts/rtmp-test-server.sh start DIR      start on free ports, write DIR/env
#   scripts/rtmp-test-server.sh stop DIR       stop exactly that nginx (by PID)
#
# DIR/env (sourceable):
#   RTMP_URL=rtmp://127.0.0.1:PORT/live        push to $RTMP_URL/KEY
#   RTMP_PORT, RTMP_HTTP_PORT                  HTTP: /stat (XML of live streams)
#   RTMP_PID                                   the nginx master
# Logs: DIR/logs/error.log. nginx and the module come from Debian (scripts/deps.sh test
# group, which keeps the package from starting a system nginx).
# Readers of a stream that does not exist hang: always give ffprobe -rw_timeout.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
MODULE=/usr/lib/nginx/modules/ngx_rtmp_module.so

die() {
	echo "rtmp-test-server: $*" >&2
	exit 1
}

# A TCP port on 127.0.0.1 that nothing listens on now.
free_port() {
	/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

start() {
	local dir=$1 rtmp_port http_port pid

	if ! command -v nginx >/dev/null || [ ! -f "$MODULE" ]; then
		# shellcheck source=scripts/deps.sh
		. "$HERE/deps.sh"
		HUBFS_DEPS_NO_EXTRA=1 hubfs_deps_install test || die "installing nginx failed"
	fi
	mkdir -p "$dir"/{logs,tmp,hls}
	dir=$(cd "$dir" && pwd)
	rtmp_port=$(free_port)
	http_port=$(free_port)
	cat >"$dir/nginx.conf" <<CONF
load_module $MODULE;
daemon off;
master_process on;
worker_processes 1;          # nginx-rtmp works reliably with one worker only
user root;                   # the worker writes DIR/hls
pid $dir/nginx.pid;
error_log $dir/logs/error.log info;
events { worker_connections 256; }
rtmp {
    server {
        listen 127.0.0.1:$rtmp_port;
        chunk_size 4096;
        application live {
            live on;
            record off;
            hls on;
            hls_path $dir/hls;
            hls_fragment 2s;
            hls_playlist_length 10s;
        }
    }
}
http {
    access_log $dir/logs/access.log;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    server {
        listen 127.0.0.1:$http_port;
        location /stat { rtmp_stat all; }
    }
}
CONF
	# -e: the error log used before the config is read (else /var/log/nginx/error.log)
	nginx -e "$dir/logs/error.log" -p "$dir" -c "$dir/nginx.conf" -t -q ||
		die "nginx refused its configuration (see $dir/logs/error.log)"
	nginx -e "$dir/logs/error.log" -p "$dir" -c "$dir/nginx.conf" \
		>"$dir/logs/stdout.log" 2>&1 &
	pid=$!
	for _ in $(seq 100); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$rtmp_port") 2>/dev/null; then
			cat >"$dir/env" <<ENV
RTMP_URL=rtmp://127.0.0.1:$rtmp_port/live
RTMP_PORT=$rtmp_port
RTMP_HTTP_PORT=$http_port
RTMP_PID=$pid
ENV
			echo "$pid"
			return 0
		fi
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	kill "$pid" 2>/dev/null || true
	cat "$dir/logs/error.log" "$dir/logs/stdout.log" >&2 || true
	die "nginx did not come up"
}

stop() {
	local dir=$1 pid

	[ -f "$dir/env" ] || return 0
	pid=$(sed -n 's/^RTMP_PID=//p' "$dir/env")
	[ -n "$pid" ] || return 0
	kill -QUIT "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

case "${1:-}" in
start) [ $# -eq 2 ] || die "usage: $0 start DIR"; start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: $0 stop DIR"; stop "$2" ;;
*) die "usage: $0 start|stop DIR" ;;
esac
