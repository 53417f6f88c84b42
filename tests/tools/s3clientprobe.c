/*
 * s3clientprobe — a command-line front for hubfs's S3 client (src/backend/s3_client.c), for
 * the tests (210-s3-client.sh) and for poking a bucket by hand.
 *
 *   s3clientprobe [-r RETRIES] [-b BACKOFF_MS] [-t TIMEOUT_MS] [-c CONNS] [-k MAX_KEYS] [-S]
 *                 ENDPOINT BUCKET CMD [ARGS...]
 *
 *   put KEY FILE [NAME=VALUE...]        one PUT from memory, with x-amz-meta-NAME: VALUE
 *   putfd KEY FILE [NAME=VALUE...]      the same, streamed from the file
 *   putn PREFIX N                       N small objects PREFIX0000.. (body: their key)
 *   get KEY [OFF LEN]                   bytes to stdout (whole object: HEAD, then ranges)
 *   head KEY                            size=, etag=, mtime_ns=, meta.NAME= lines
 *   delete KEY
 *   copy FROM TO [NAME=VALUE...]        keeps the metadata, or replaces it when given
 *   list [PREFIX [DELIM]]               "obj KEY SIZE ETAG MTIME_NS" / "pre PREFIX" lines
 *   mpu KEY FILE PART_MIB [NAME=VALUE...]  a whole multipart upload, parts from 4 threads;
 *                                       aborted on any failure
 *   mpu-create KEY                      prints the upload id
 *   mpu-abort KEY UPLOAD_ID
 *   mpu-list [PREFIX]                   "KEY UPLOAD_ID INITIATED_NS" lines
 *   mpu-abort-all [PREFIX]              aborts every upload listed under PREFIX
 *
 * ENDPOINT: "http://host:port" (path style) or "aws" (virtual-hosted AWS). Region: $S3_REGION,
 * else $AWS_REGION, else us-east-1. Credentials: never on the command line — the
 * environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) or AWS_PROFILE
 * and ~/.aws, through hubfs_s3_creds_load(). -S prints the client's counters to stderr at
 * the end ("stats requests=N retries=N failures=N bytes_up=N bytes_down=N"), also after a
 * failure. Exit status: 0 done; 1 the client returned an error (stderr: "s3clientprobe:
 * CMD 'KEY': message (ENAME)"); 2 usage or local file errors.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend/s3_client.h"
#include "hubfs/config.h"
#include "hubfs/log.h"

#define PROBE_CHUNK (4u << 20)

static const char *probe_cmd = "";

static int usage(void)
{
	fprintf(stderr,
		"usage: s3clientprobe [-r RETRIES] [-b BACKOFF_MS] [-t TIMEOUT_MS] "
		"[-c CONNS] [-k MAX_KEYS] [-S] ENDPOINT BUCKET CMD [ARGS...]\n"
		"  CMD: put putfd putn get head delete copy list mpu mpu-create "
		"mpu-abort mpu-list mpu-abort-all (see the source's header)\n");
	return 2;
}

/* Report a client error; 1. */
static int fail(const char *what, int rc)
{
	const char *name = strerrorname_np(-rc);

	fprintf(stderr, "s3clientprobe: %s '%s': %s (%s)\n", probe_cmd, what, strerror(-rc),
		name ? name : "?");
	return 1;
}

static int read_whole(const char *path, char **out, size_t *len)
{
	struct stat st;
	size_t done = 0;
	char *buf;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "s3clientprobe: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	while (buf && done < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + done, (size_t)st.st_size - done);

		if (n <= 0) {
			fprintf(stderr, "s3clientprobe: %s: short read\n", path);
			free(buf);
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	close(fd);
	if (!buf)
		return -1;
	*out = buf;
	*len = done;
	return 0;
}

/* NAME=VALUE arguments into @m (borrowed strings: the names are cut at '='). */
static int parse_meta(int argc, char **argv, struct hubfs_s3_meta *m)
{
	memset(m, 0, sizeof(*m));
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i] || m->n == HUBFS_S3_META_MAX) {
			fprintf(stderr, "s3clientprobe: bad metadata '%s' (NAME=VALUE)\n", argv[i]);
			return -1;
		}
		*eq = '\0';
		m->kv[m->n].name = argv[i];
		m->kv[m->n].value = eq + 1;
		m->n++;
	}
	return 0;
}

static int write_all(const void *buf, size_t len)
{
	if (len && fwrite(buf, 1, len, stdout) != len) {
		fprintf(stderr, "s3clientprobe: write error on stdout\n");
		return -1;
	}
	return 0;
}

static int cmd_get(struct hubfs_s3_client *c, const char *key, int argc, char **argv)
{
	struct hubfs_s3_object obj;
	uint64_t off = 0, end;
	char *buf;
	size_t got;
	int rc;

	if (argc == 2) {
		size_t len = strtoull(argv[1], NULL, 0);

		off = strtoull(argv[0], NULL, 0);
		buf = malloc(len ? len : 1);
		if (!buf)
			return 2;
		rc = hubfs_s3_get(c, key, off, len, buf, &got);
		if (!rc && write_all(buf, got))
			rc = 2;
		free(buf);
		return rc < 0 ? fail(key, rc) : rc;
	}
	if (argc)
		return usage();
	rc = hubfs_s3_head(c, key, &obj);
	if (rc)
		return fail(key, rc);
	hubfs_s3_meta_release(&obj.meta);
	end = obj.size;
	buf = malloc(PROBE_CHUNK);
	if (!buf)
		return 2;
	while (off < end) {
		size_t want = end - off < PROBE_CHUNK ? (size_t)(end - off) : PROBE_CHUNK;

		rc = hubfs_s3_get(c, key, off, want, buf, &got);
		if (rc)
			break;
		if (got != want) {
			fprintf(stderr,
				"s3clientprobe: get '%s': %zu bytes at %" PRIu64 ", expected %zu\n",
				key, got, off, want);
			rc = 2;
			break;
		}
		if (write_all(buf, got)) {
			rc = 2;
			break;
		}
		off += got;
	}
	free(buf);
	return rc < 0 ? fail(key, rc) : rc;
}

static int cmd_head(struct hubfs_s3_client *c, const char *key)
{
	struct hubfs_s3_object obj;
	int rc = hubfs_s3_head(c, key, &obj);

	if (rc)
		return fail(key, rc);
	printf("size=%" PRIu64 "\netag=%s\nmtime_ns=%" PRId64 "\n", obj.size, obj.etag,
	       obj.mtime_ns);
	for (size_t i = 0; i < obj.meta.n; i++)
		printf("meta.%s=%s\n", obj.meta.kv[i].name, obj.meta.kv[i].value);
	hubfs_s3_meta_release(&obj.meta);
	return 0;
}

static int on_list(void *arg, const char *key, bool is_prefix, const struct hubfs_s3_object *obj)
{
	(void)arg;
	if (is_prefix)
		printf("pre %s\n", key);
	else
		printf("obj %s %" PRIu64 " %s %" PRId64 "\n", key, obj->size, obj->etag,
		       obj->mtime_ns);
	return 0;
}

static int on_upload(void *arg, const char *key, const char *upload_id, int64_t initiated_ns)
{
	(void)arg;
	printf("%s %s %" PRId64 "\n", key, upload_id, initiated_ns);
	return 0;
}

struct abort_all {
	struct hubfs_s3_client *c;
	unsigned int n;
	int rc;
};

static int on_upload_abort(void *arg, const char *key, const char *upload_id, int64_t initiated_ns)
{
	struct abort_all *a = arg;
	int rc = hubfs_s3_mpu_abort(a->c, key, upload_id);

	(void)initiated_ns;
	if (rc) {
		a->rc = rc;
		return rc;
	}
	a->n++;
	return 0;
}

/* The multipart upload of one file: parts handed out to threads by index. */
struct mpu {
	struct hubfs_s3_client *c;
	const char *key;
	const char *upload_id;
	int fd;
	uint64_t size;
	size_t part_size;
	unsigned int nparts;
	struct hubfs_s3_part *parts;
	pthread_mutex_t lock; /* protects next, rc */
	unsigned int next;
	int rc;
};

static void *mpu_worker(void *arg)
{
	struct mpu *m = arg;
	char *buf = malloc(m->part_size);

	for (;;) {
		unsigned int i;
		uint64_t off;
		size_t len, done = 0;
		int rc = 0;

		pthread_mutex_lock(&m->lock);
		i = m->next++;
		if (m->rc || !buf)
			i = m->nparts;
		if (!buf && !m->rc)
			m->rc = -ENOMEM;
		pthread_mutex_unlock(&m->lock);
		if (i >= m->nparts)
			break;
		off = (uint64_t)i * m->part_size;
		len = m->size - off < m->part_size ? (size_t)(m->size - off) : m->part_size;
		while (done < len) {
			ssize_t n = pread(m->fd, buf + done, len - done, (off_t)(off + done));

			if (n <= 0) {
				rc = n < 0 ? -errno : -EIO;
				break;
			}
			done += (size_t)n;
		}
		m->parts[i].partno = i + 1;
		if (!rc)
			rc = hubfs_s3_mpu_part(m->c, m->key, m->upload_id, i + 1, buf, len,
					       m->parts[i].etag);
		if (rc) {
			pthread_mutex_lock(&m->lock);
			if (!m->rc)
				m->rc = rc;
			pthread_mutex_unlock(&m->lock);
		}
	}
	free(buf);
	return NULL;
}

static int cmd_mpu(struct hubfs_s3_client *c, const char *key, const char *path,
		   const char *part_mib, const struct hubfs_s3_meta *meta)
{
	struct mpu m = { .c = c, .key = key };
	pthread_t th[4];
	unsigned int nth;
	char *upload_id = NULL, etag[80];
	struct stat st;
	int rc;

	m.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (m.fd < 0 || fstat(m.fd, &st)) {
		fprintf(stderr, "s3clientprobe: %s: %s\n", path, strerror(errno));
		return 2;
	}
	m.size = (uint64_t)st.st_size;
	m.part_size = (size_t)strtoul(part_mib, NULL, 10) << 20;
	if (!m.part_size || !m.size) {
		close(m.fd);
		return usage();
	}
	m.nparts = (unsigned int)((m.size + m.part_size - 1) / m.part_size);
	m.parts = calloc(m.nparts, sizeof(*m.parts));
	pthread_mutex_init(&m.lock, NULL);
	rc = m.parts ? hubfs_s3_mpu_create(c, key, meta, &upload_id) : -ENOMEM;
	if (rc)
		goto out;
	m.upload_id = upload_id;
	nth = m.nparts < 4 ? m.nparts : 4;
	for (unsigned int i = 0; i < nth; i++)
		pthread_create(&th[i], NULL, mpu_worker, &m);
	for (unsigned int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	rc = m.rc;
	if (!rc)
		rc = hubfs_s3_mpu_complete(c, key, upload_id, m.parts, m.nparts, etag);
	if (rc) {
		int arc = hubfs_s3_mpu_abort(c, key, upload_id);

		if (arc)
			fprintf(stderr, "s3clientprobe: abort of upload %s failed: %s\n", upload_id,
				strerror(-arc));
		goto out;
	}
	printf("etag=%s\nparts=%u\n", etag, m.nparts);
out:
	pthread_mutex_destroy(&m.lock);
	free(m.parts);
	free(upload_id);
	close(m.fd);
	return rc ? fail(key, rc) : 0;
}

static int run(struct hubfs_s3_client *c, const char *cmd, int argc, char **argv)
{
	struct hubfs_s3_meta meta;
	char etag[80];
	int rc;

	if ((!strcmp(cmd, "put") || !strcmp(cmd, "putfd")) && argc >= 2) {
		char *buf = NULL;
		size_t len = 0;
		int fd;

		if (parse_meta(argc - 2, argv + 2, &meta))
			return 2;
		if (!strcmp(cmd, "put")) {
			if (read_whole(argv[1], &buf, &len))
				return 2;
			rc = hubfs_s3_put(c, argv[0], buf, len, &meta, etag);
			free(buf);
		} else {
			struct stat st;

			fd = open(argv[1], O_RDONLY | O_CLOEXEC);
			if (fd < 0 || fstat(fd, &st)) {
				fprintf(stderr, "s3clientprobe: %s: %s\n", argv[1],
					strerror(errno));
				return 2;
			}
			rc = hubfs_s3_put_fd(c, argv[0], fd, 0, (uint64_t)st.st_size, &meta, etag);
			close(fd);
		}
		if (rc)
			return fail(argv[0], rc);
		printf("etag=%s\n", etag);
		return 0;
	}
	if (!strcmp(cmd, "putn") && argc == 2) {
		unsigned long n = strtoul(argv[1], NULL, 10);

		for (unsigned long i = 0; i < n; i++) {
			char key[1100];

			snprintf(key, sizeof(key), "%s%04lu", argv[0], i);
			rc = hubfs_s3_put(c, key, key, strlen(key), NULL, NULL);
			if (rc)
				return fail(key, rc);
		}
		return 0;
	}
	if (!strcmp(cmd, "get") && argc >= 1)
		return cmd_get(c, argv[0], argc - 1, argv + 1);
	if (!strcmp(cmd, "head") && argc == 1)
		return cmd_head(c, argv[0]);
	if (!strcmp(cmd, "delete") && argc == 1) {
		rc = hubfs_s3_delete(c, argv[0]);
		return rc ? fail(argv[0], rc) : 0;
	}
	if (!strcmp(cmd, "copy") && argc >= 2) {
		if (parse_meta(argc - 2, argv + 2, &meta))
			return 2;
		rc = hubfs_s3_copy(c, argv[0], argv[1], argc > 2 ? &meta : NULL);
		return rc ? fail(argv[0], rc) : 0;
	}
	if (!strcmp(cmd, "list") && argc <= 2) {
		rc = hubfs_s3_list(c, argc > 0 ? argv[0] : "", argc > 1 ? argv[1] : NULL, on_list,
				   NULL);
		return rc ? fail(argc > 0 ? argv[0] : "", rc) : 0;
	}
	if (!strcmp(cmd, "mpu") && argc >= 3) {
		if (parse_meta(argc - 3, argv + 3, &meta))
			return 2;
		return cmd_mpu(c, argv[0], argv[1], argv[2], &meta);
	}
	if (!strcmp(cmd, "mpu-create") && argc == 1) {
		char *id = NULL;

		rc = hubfs_s3_mpu_create(c, argv[0], NULL, &id);
		if (rc)
			return fail(argv[0], rc);
		printf("%s\n", id);
		free(id);
		return 0;
	}
	if (!strcmp(cmd, "mpu-abort") && argc == 2) {
		rc = hubfs_s3_mpu_abort(c, argv[0], argv[1]);
		return rc ? fail(argv[0], rc) : 0;
	}
	if (!strcmp(cmd, "mpu-list") && argc <= 1) {
		rc = hubfs_s3_mpu_list(c, argc ? argv[0] : "", on_upload, NULL);
		return rc ? fail(argc ? argv[0] : "", rc) : 0;
	}
	if (!strcmp(cmd, "mpu-abort-all") && argc <= 1) {
		struct abort_all a = { .c = c };

		rc = hubfs_s3_mpu_list(c, argc ? argv[0] : "", on_upload_abort, &a);
		if (rc)
			return fail(argc ? argv[0] : "", a.rc ? a.rc : rc);
		printf("aborted=%u\n", a.n);
		return 0;
	}
	return usage();
}

int main(int argc, char **argv)
{
	struct hubfs_s3_client_opts o = { .retries = 3,
					  .backoff_base_ms = 20,
					  .timeout_ms = 10000 };
	struct hubfs_s3_creds creds = { 0 };
	struct hubfs_s3_client *c = NULL;
	struct hubfs_config cfg;
	bool stats = false;
	char err[HUBFS_CONFIG_ERR_MAX];
	const char *region;
	int opt, rc;

	while ((opt = getopt(argc, argv, "+r:b:t:c:k:S")) != -1) {
		switch (opt) {
		case 'r':
			o.retries = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			o.backoff_base_ms = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 't':
			o.timeout_ms = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			o.max_conns = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			o.list_max_keys = (unsigned int)strtoul(optarg, NULL, 10);
			break;
		case 'S':
			stats = true;
			break;
		default:
			return usage();
		}
	}
	if (argc - optind < 3)
		return usage();
	hubfs_log_init("s3clientprobe", true, false);
	if (hubfs_config_init(&cfg))
		return 2;
	rc = hubfs_config_load_env(&cfg, getenv, err, sizeof(err));
	if (!rc)
		rc = hubfs_s3_creds_load(&creds, &cfg, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "s3clientprobe: %s\n", err);
		hubfs_config_release(&cfg);
		return 2;
	}
	region = getenv("S3_REGION");
	o.region = region && *region ? region : cfg.s3_region;
	o.endpoint = strcmp(argv[optind], "aws") ? argv[optind] : NULL;
	o.bucket = argv[optind + 1];
	o.creds = &creds;
	rc = hubfs_s3_client_new(&c, &o, err, sizeof(err));
	hubfs_s3_creds_release(&creds);
	if (rc) {
		fprintf(stderr, "s3clientprobe: %s\n", err[0] ? err : strerror(-rc));
		hubfs_config_release(&cfg);
		return 2;
	}
	probe_cmd = argv[optind + 2];
	rc = run(c, probe_cmd, argc - optind - 3, argv + optind + 3);
	if (fflush(stdout) && !rc)
		rc = 2;
	if (stats) {
		struct hubfs_s3_stats s;

		hubfs_s3_client_stats(c, &s);
		fprintf(stderr,
			"stats requests=%" PRIu64 " retries=%" PRIu64 " failures=%" PRIu64
			" bytes_up=%" PRIu64 " bytes_down=%" PRIu64 "\n",
			s.requests, s.retries, s.failures, s.bytes_up, s.bytes_down);
	}
	hubfs_s3_client_free(c);
	hubfs_config_release(&cfg);
	return rc;
}
