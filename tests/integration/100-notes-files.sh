#!/bin/bash
# notes/ as ordinary files: the same sequence of file operations on notes/ (top level and a
# folder) and on a plain directory gives the same results and errno; shell tools; statfs;
# name rules (reserved, newline, 255/256 bytes); EFBIG past notes_max_mb.
. "$(dirname "$0")/lib.sh"
# names and sizes this test refuses on purpose are reported as rejections, not errors
hub_mount -o node_name=files-a
N=$MNT/notes
export LC_ALL=C

# ---- parity: one script, three directories ------------------------------------------------
# Each operation prints "op: result" where a failure is the errno's name, so the three
# transcripts can be compared line by line. Listings leave out notes/'s generated top-level
# entries (.versions, .search, .conflicts), which a plain directory has not.
cat >"$T/parity.py" <<'PY'
import errno, os, sys

d = sys.argv[1]
GEN = {".versions", ".search", ".conflicts"}
out = []


def p(*parts):
    return os.path.join(d, *parts)


def rec(op, fn):
    try:
        r = fn()
    except OSError as e:
        r = errno.errorcode.get(e.errno, str(e.errno))
    out.append("%s: %r" % (op, r))
    return r


def cat(*parts):
    with open(p(*parts), "rb") as f:
        return f.read()


def put(name, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    fd = os.open(p(name), flags, 0o644)
    try:
        return os.write(fd, data)
    finally:
        os.close(fd)


def ls(*parts):
    return sorted(n for n in os.listdir(p(*parts)) if not (n in GEN and not parts))


def size(name):
    return os.stat(p(name)).st_size


def kind(name):
    m = os.lstat(p(name)).st_mode
    return "dir" if (m >> 12) == 4 else "file" if (m >> 12) == 8 else oct(m)


# create, write, read back, an empty file, O_EXCL
rec("create", lambda: put("a.txt", b"hello\n"))
rec("read", lambda: cat("a.txt"))
rec("size", lambda: size("a.txt"))
rec("kind", lambda: kind("a.txt"))
rec("create empty", lambda: put("empty.txt", b""))
rec("read empty", lambda: cat("empty.txt"))
rec("size empty", lambda: size("empty.txt"))
rec("O_EXCL existing", lambda: os.close(os.open(p("a.txt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL)))
rec("open missing", lambda: os.open(p("missing.txt"), os.O_RDONLY))
rec("read past end", lambda: os.pread(fd0 := os.open(p("a.txt"), os.O_RDONLY), 10, 100) + (os.close(fd0) or b""))
# append (what the shell's >> does: O_APPEND)
rec("append", lambda: put("a.txt", b"world\n", os.O_WRONLY | os.O_APPEND))
rec("read appended", lambda: cat("a.txt"))
rec("append new", lambda: put("new.txt", b"x\n", os.O_WRONLY | os.O_APPEND | os.O_CREAT))
rec("read append new", lambda: cat("new.txt"))
# truncate by path (shrink, grow with zeros), ftruncate on an open file, O_TRUNC alone
rec("truncate 3", lambda: os.truncate(p("a.txt"), 3))
rec("read truncated", lambda: cat("a.txt"))
rec("truncate 8", lambda: os.truncate(p("a.txt"), 8))
rec("read grown", lambda: cat("a.txt"))


def ftrunc():
    fd = os.open(p("a.txt"), os.O_RDWR)
    try:
        os.ftruncate(fd, 2)
        os.pwrite(fd, b"Z", 5)
        return os.pread(fd, 100, 0)
    finally:
        os.close(fd)


rec("ftruncate+pwrite", ftrunc)
rec("read ftruncated", lambda: cat("a.txt"))
rec("O_TRUNC only", lambda: os.close(os.open(p("new.txt"), os.O_WRONLY | os.O_TRUNC)))
rec("read O_TRUNC", lambda: cat("new.txt"))
# a hole: write past the end
rec("pwrite hole", lambda: (lambda fd: (os.pwrite(fd, b"end", 5), os.close(fd)))(os.open(p("hole.txt"), os.O_WRONLY | os.O_CREAT, 0o644)))
rec("read hole", lambda: cat("hole.txt"))
# rename, rename over, rename of a missing name
rec("rename", lambda: os.rename(p("a.txt"), p("b.txt")))
rec("old name", lambda: os.stat(p("a.txt")) and "exists")
rec("read renamed", lambda: cat("b.txt"))
rec("create c", lambda: put("c.txt", b"CCC\n"))
rec("rename over", lambda: os.rename(p("b.txt"), p("c.txt")))
rec("read over", lambda: cat("c.txt"))
rec("source gone", lambda: os.stat(p("b.txt")) and "exists")
rec("rename missing", lambda: os.rename(p("nope.txt"), p("nope2.txt")))
rec("rename to itself", lambda: os.rename(p("c.txt"), p("c.txt")))
rec("read self", lambda: cat("c.txt"))
rec("list 1", lambda: ls())


# unlink of an open file: the fd keeps working, the name is gone, and stays gone after close;
# a new file under the same name is independent of the old fd
def unlink_open():
    r = []
    put("u.txt", b"open and unlinked\n")
    fd = os.open(p("u.txt"), os.O_RDWR)
    os.unlink(p("u.txt"))
    r.append(os.path.exists(p("u.txt")))
    r.append("u.txt" in os.listdir(d))
    r.append(os.pread(fd, 100, 0))
    os.pwrite(fd, b"OPEN", 0)
    r.append(os.pread(fd, 100, 0))
    # not fstat(fd): libfuse 3.14's high-level API answers ESTALE for an unlinked file
    # (the kernel sends no handle with fstat); reads and writes through the fd work
    put("u.txt", b"new one\n")
    os.pwrite(fd, b"again", 0)
    os.fsync(fd)
    r.append(cat("u.txt"))
    os.close(fd)
    r.append(cat("u.txt"))
    os.unlink(p("u.txt"))
    r.append(os.path.exists(p("u.txt")))
    return r


rec("unlink open", unlink_open)


# read after write on two fds of the same file (one writing, one reading), before any close;
# two writers at different offsets
def two_fds():
    r = []
    w = os.open(p("two.txt"), os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o644)
    rd = os.open(p("two.txt"), os.O_RDONLY)
    os.write(w, b"first\n")
    r.append(os.pread(rd, 100, 0))
    os.write(w, b"second\n")
    r.append(os.pread(rd, 100, 0))
    r.append(os.fstat(rd).st_size)
    w2 = os.open(p("two.txt"), os.O_WRONLY)
    os.pwrite(w2, b"FI", 0)
    r.append(os.pread(rd, 100, 0))
    r.append(os.pread(w, 100, 0))
    os.fsync(w2)
    os.close(w2)
    r.append(cat("two.txt"))
    os.pwrite(w, b"!", 5)
    os.close(w)
    r.append(os.pread(rd, 100, 0))
    os.close(rd)
    r.append(cat("two.txt"))
    return r


rec("two fds", two_fds)
# folders: mkdir, EEXIST, ENOTEMPTY, ENOTDIR, EISDIR, rename of a folder with content
rec("mkdir", lambda: os.mkdir(p("dir")))
rec("mkdir again", lambda: os.mkdir(p("dir")))
rec("mkdir over file", lambda: os.mkdir(p("c.txt")))
rec("mkdir no parent", lambda: os.mkdir(p("nodir", "sub")))
rec("create no parent", lambda: put(os.path.join("nodir", "f.txt"), b"x"))
rec("kind dir", lambda: kind("dir"))
rec("create in dir", lambda: put(os.path.join("dir", "f.txt"), b"in a folder\n"))
rec("mkdir nested", lambda: os.mkdir(p("dir", "sub")))
rec("create nested", lambda: put(os.path.join("dir", "sub", "g.txt"), b"deeper\n"))
rec("list dir", lambda: ls("dir"))
rec("rmdir not empty", lambda: os.rmdir(p("dir")))
rec("rmdir file", lambda: os.rmdir(p("c.txt")))
rec("unlink dir", lambda: os.unlink(p("dir")))
rec("open dir for writing", lambda: os.open(p("dir"), os.O_WRONLY))
rec("file as folder", lambda: put(os.path.join("c.txt", "x"), b"x"))
rec("rename file over dir", lambda: os.rename(p("c.txt"), p("dir")))
rec("rename dir over file", lambda: os.rename(p("dir"), p("c.txt")))
rec("move into dir", lambda: os.rename(p("hole.txt"), p("dir", "hole.txt")))
rec("rename dir", lambda: os.rename(p("dir"), p("dir2")))
rec("read moved", lambda: cat("dir2", "sub", "g.txt"))
rec("old dir", lambda: os.stat(p("dir")) and "exists")
rec("list dir2", lambda: ls("dir2"))
rec("rmdir empty", lambda: (os.mkdir(p("e")), os.rmdir(p("e"))))
rec("rmdir missing", lambda: os.rmdir(p("e")))
rec("unlink missing", lambda: os.unlink(p("e")))


def emptydir():
    for f in ("dir2/sub/g.txt", "dir2/f.txt", "dir2/hole.txt"):
        os.unlink(p(f))
    os.rmdir(p("dir2", "sub"))
    os.rmdir(p("dir2"))


rec("empty and rmdir", emptydir)
# attributes: utimens (to the nanosecond), chmod, on a file and a folder; fsync
rec("utime", lambda: os.utime(p("c.txt"), ns=(1577934245123456789, 1577934245123456789)))
rec("mtime", lambda: os.stat(p("c.txt")).st_mtime_ns)
rec("chmod", lambda: os.chmod(p("c.txt"), 0o600))
rec("mode", lambda: oct(os.stat(p("c.txt")).st_mode & 0o7777))
rec("chmod again", lambda: os.chmod(p("c.txt"), 0o640))
rec("mode again", lambda: oct(os.stat(p("c.txt")).st_mode & 0o7777))
rec("content after attrs", lambda: cat("c.txt"))
rec("mkdir for attrs", lambda: os.mkdir(p("ad"), 0o755))
rec("chmod dir", lambda: os.chmod(p("ad"), 0o700))
rec("mode dir", lambda: oct(os.stat(p("ad")).st_mode & 0o7777))
rec("utime dir", lambda: os.utime(p("ad"), ns=(1500000000000000000, 1500000000000000000)))
rec("mtime dir", lambda: os.stat(p("ad")).st_mtime_ns)
rec("rmdir ad", lambda: os.rmdir(p("ad")))


def fsync_it():
    fd = os.open(p("c.txt"), os.O_WRONLY | os.O_APPEND)
    os.write(fd, b"synced\n")
    os.fsync(fd)
    os.fdatasync(fd)
    r = cat("c.txt")
    os.close(fd)
    return r


rec("fsync", fsync_it)
rec("statvfs", lambda: os.statvfs(d).f_bsize > 0)
rec("list end", lambda: ls())
print("\n".join(out))
PY

mkdir "$T/plain"
python3 "$T/parity.py" "$T/plain" >"$T/plain.out" || fail "parity script on a plain directory"
python3 "$T/parity.py" "$N" >"$T/top.out" || fail "parity script on notes/"
mkdir "$N/folder"
python3 "$T/parity.py" "$N/folder" >"$T/folder.out" || fail "parity script on notes/folder"
diff -u "$T/plain.out" "$T/top.out" >&2 || fail "notes/ and a plain directory differ (above: - plain, + notes/)"
diff -u "$T/plain.out" "$T/folder.out" >&2 || fail "notes/folder and a plain directory differ"
note "parity: $(wc -l <"$T/plain.out") operations alike on notes/, notes/folder and a plain directory"

# ---- the same with shell tools ------------------------------------------------------------
for d in "$N/sh" "$T/plain/sh"; do
	mkdir "$d"
	echo one >"$d/s.txt"
	echo two >>"$d/s.txt"
	printf 'three' >>"$d/s.txt"
	truncate -s 6 "$d/s.txt"
	truncate -s +2 "$d/s.txt"
	cp "$d/s.txt" "$d/t.txt"
	mv "$d/t.txt" "$d/u.txt"
	touch "$d/v.txt"
	mv -f "$d/u.txt" "$d/v.txt"
	touch -d '2020-02-03 04:05:06' "$d/v.txt"
	chmod 600 "$d/v.txt"
done
assert_eq "$(cd "$N/sh" && ls -l | tail -n +2 | awk '{print $1, $5, $NF}')" \
	"$(cd "$T/plain/sh" && ls -l | tail -n +2 | awk '{print $1, $5, $NF}')" "ls -l after shell tools"
assert_eq "$(stat -c %Y "$N/sh/v.txt")" "$(stat -c %Y "$T/plain/sh/v.txt")" "touch -d"
cmp "$N/sh/s.txt" "$T/plain/sh/s.txt" || fail "echo/>>/truncate content differs"
cmp "$N/sh/v.txt" "$T/plain/sh/v.txt" || fail "cp/mv content differs"
rm -r "$N/sh"
assert_absent "$N/sh"

# statfs works on the mount and in notes/
df "$MNT" >/dev/null || fail "df on the mount"
stat -f "$N" >/dev/null || fail "statfs on notes/"
[ "$(stat -f -c %S "$N")" -gt 0 ] || fail "statfs block size"

# ---- names ----------------------------------------------------------------------------------
# errno_of OP PATH [PATH2]: the errno name of mkdir/create/rename, or "ok"
errno_of() {
	python3 - "$@" <<'PY'
import errno, os, sys
op, a = sys.argv[1], sys.argv[2]
try:
    if op == "mkdir":
        os.mkdir(a)
    elif op == "create":
        os.close(os.open(a, os.O_WRONLY | os.O_CREAT, 0o644))
    elif op == "excl":
        os.close(os.open(a, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
    elif op == "rename":
        os.rename(a, sys.argv[3])
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
}
# The reserved top-level names are generated folders: nothing can be created over them or
# moved into them. (They exist, so the kernel answers mkdir EEXIST and create EISDIR
# before hubfs sees the name: EINVAL is what a name check can give only for a name that is
# not there, which these never are.)
for r in .versions .search .conflicts; do
	assert_eq "$(errno_of mkdir "$N/$r")" EEXIST "mkdir $r"
	assert_eq "$(errno_of create "$N/$r")" EISDIR "create $r"
	assert_eq "$(errno_of excl "$N/$r")" EEXIST "O_EXCL create $r"
	[ "$(errno_of rename "$N/folder/c.txt" "$N/$r/c.txt")" != ok ] || fail "a note moved into $r"
	[ "$(errno_of rename "$N/folder" "$N/$r")" != ok ] || fail "a folder renamed over $r"
	[ -d "$N/$r" ] || fail "$r is not a folder any more"
done
[ -f "$N/folder/c.txt" ] || fail "a refused rename lost the note"
ls "$N/.versions" | grep -qx c.txt || fail ".versions after the refusals: $(ls "$N/.versions")"
# in a sub-folder the names are ordinary
mkdir "$N/folder/.versions" || fail "mkdir folder/.versions"
echo ok >"$N/folder/.search" || fail "a note named folder/.search"
assert_eq "$(cat "$N/folder/.search")" ok "a note named .search in a folder"
rm "$N/folder/.search" && rmdir "$N/folder/.versions"
# a newline in a name: EINVAL for create, mkdir and rename
nl=$'bad\nname'
assert_eq "$(errno_of create "$N/$nl")" EINVAL "create with a newline"
assert_eq "$(errno_of mkdir "$N/$nl")" EINVAL "mkdir with a newline"
assert_eq "$(errno_of rename "$N/folder/c.txt" "$N/folder/$nl")" EINVAL "rename to a newline"
assert_eq "$(errno_of create "$N/folder/$nl")" EINVAL "create with a newline in a folder"
[ -f "$N/folder/c.txt" ] || fail "a refused rename lost the note"
# 255 bytes is fine, 256 is ENAMETOOLONG (create, mkdir, rename)
n255=$(printf 'n%.0s' $(seq 255))
n256=${n255}x
echo long >"$N/$n255" || fail "a 255-byte name"
assert_eq "$(cat "$N/$n255")" long "255-byte name content"
ls "$N" | grep -qx "$n255" || fail "255-byte name not listed"
rm "$N/$n255"
mkdir "$N/folder/$n255" || fail "a 255-byte folder name"
rmdir "$N/folder/$n255"
assert_eq "$(errno_of create "$N/$n256")" ENAMETOOLONG "create with 256 bytes"
assert_eq "$(errno_of mkdir "$N/$n256")" ENAMETOOLONG "mkdir with 256 bytes"
assert_eq "$(errno_of rename "$N/folder/c.txt" "$N/folder/$n256")" ENAMETOOLONG "rename to 256 bytes"
expect_fail "File name too long" touch "$N/$n256"
# UTF-8 names are fine
echo utf >"$N/folder/žluťoučký kůň.md" || fail "a UTF-8 name"
assert_eq "$(cat "$N/folder/žluťoučký kůň.md")" utf "UTF-8 name content"
hub_umount

# ---- EFBIG past notes_max_mb ------------------------------------------------------------------
hub_mount -o node_name=files-a,notes_max_mb=1
python3 - "$N" <<'PY' || fail "notes_max_mb"
import errno, os, sys
d = sys.argv[1]
mib = 1 << 20
# exactly the limit: fine, and saved
with open(os.path.join(d, "big.txt"), "wb") as f:
    f.write(b"a" * mib)
assert os.stat(os.path.join(d, "big.txt")).st_size == mib, "1 MiB note size"
# one byte more: EFBIG, from a write that crosses the limit (after a short write, as on
# any filesystem with a size limit), from an append and from a pwrite at the limit
def write_all(fd, data):
    n = 0
    while n < len(data):
        n += os.write(fd, data[n:])
    return n


for how in ("write", "append", "pwrite"):
    if how == "write":
        fd = os.open(os.path.join(d, "big2.txt"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    elif how == "append":
        fd = os.open(os.path.join(d, "big.txt"), os.O_WRONLY | os.O_APPEND)
    else:
        fd = os.open(os.path.join(d, "big2.txt"), os.O_WRONLY)
    try:
        if how == "write":
            n = write_all(fd, b"b" * (mib + 1))
        elif how == "append":
            n = write_all(fd, b"c")
        else:
            n = os.pwrite(fd, b"d", mib)
        sys.exit("%s past notes_max_mb: wrote %d bytes, no EFBIG" % (how, n))
    except OSError as e:
        if e.errno != errno.EFBIG:
            sys.exit("%s past notes_max_mb: %s, want EFBIG" % (how, e))
    finally:
        os.close(fd)
# truncate past the limit
try:
    os.truncate(os.path.join(d, "big.txt"), mib + 1)
    sys.exit("truncate past notes_max_mb succeeded")
except OSError as e:
    if e.errno != errno.EFBIG:
        sys.exit("truncate past notes_max_mb: %s, want EFBIG" % e)
# the saved note is intact
with open(os.path.join(d, "big.txt"), "rb") as f:
    data = f.read()
assert data == b"a" * mib, "1 MiB note changed by refused writes (%d bytes)" % len(data)
PY
expect_fail "File too large" truncate -s 2M "$N/big.txt"
expect_fail "File too large" sh -c "head -c 2000000 /dev/zero > '$N/big3.txt'"
assert_eq "$(stat -c %s "$N/big.txt")" 1048576 "size after refusals"
hub_umount
