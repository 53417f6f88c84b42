/*
 * backend.c — the only caller of hubfs_backend_ops: dispatch, tracing and the fault hook.
 *
 * Every backend operation passes through here, so HUBFS_DEBUG=backend traces all of them
 * in one format and tests can make the Nth call of an op fail (hubfs_backend_fault_set)
 * without any backend knowing. The fault state is guarded by be_fault_lock; the rest is
 * stateless and callable from any thread.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "hubfs/backend.h"
#include "hubfs/config.h"
#include "hubfs/log.h"

static pthread_mutex_t be_fault_lock = PTHREAD_MUTEX_INITIALIZER;
static char be_fault_op[32];      /* be_fault_lock */
static unsigned int be_fault_nth; /* be_fault_lock; 0 = off */
static int be_fault_err;          /* be_fault_lock */

void hubfs_backend_fault_set(const char *op, unsigned int nth, int err)
{
	pthread_mutex_lock(&be_fault_lock);
	snprintf(be_fault_op, sizeof(be_fault_op), "%s", op ? op : "*");
	be_fault_nth = nth;
	be_fault_err = err;
	pthread_mutex_unlock(&be_fault_lock);
}

/* 0, or the injected error when this call is the chosen one. */
static int be_fault(const char *op)
{
	int rc = 0;

	pthread_mutex_lock(&be_fault_lock);
	if (be_fault_nth && (!strcmp(be_fault_op, "*") || !strcmp(be_fault_op, op))) {
		if (--be_fault_nth == 0) {
			rc = be_fault_err;
			hubfs_log(HUBFS_LOG_WARN, "backend: injected fault %d in %s", rc, op);
		}
	}
	pthread_mutex_unlock(&be_fault_lock);
	return rc;
}

#define BE_TRACE(be, op, key, rc)                                                                  \
	hubfs_dbg(HUBFS_CAT_BACKEND, "backend %s: %s '%s' -> %d", (be)->ops->name, op,             \
		  (key) ? (key) : "", (int)(rc))

int hubfs_backend_open(struct hubfs_backend **out, const struct hubfs_config *cfg,
		       const char *instance, char *err, size_t errlen)
{
	const struct hubfs_backend_ops *ops;

	*out = NULL;
	switch (cfg->backend) {
	case HUBFS_BACKEND_LOCAL:
		ops = &hubfs_backend_local_ops;
		break;
	case HUBFS_BACKEND_S3:
		ops = &hubfs_backend_s3_ops;
		break;
	default:
		snprintf(err, errlen, "unknown backend");
		return -EINVAL;
	}
	if (ops->version != HUBFS_BACKEND_OPS_VERSION) {
		snprintf(err, errlen, "backend '%s' has ops version %u, expected %u", ops->name,
			 ops->version, HUBFS_BACKEND_OPS_VERSION);
		return -EINVAL;
	}
	return ops->open(out, cfg, instance, err, errlen);
}

void hubfs_backend_close(struct hubfs_backend *be)
{
	if (be)
		be->ops->close(be);
}

unsigned int hubfs_backend_caps(const struct hubfs_backend *be)
{
	return be->ops->caps;
}

const char *hubfs_backend_name(const struct hubfs_backend *be)
{
	return be->ops->name;
}

int hubfs_backend_metrics(struct hubfs_backend *be, char *buf, size_t len)
{
	if (len)
		buf[0] = '\0';
	return be->ops->metrics ? be->ops->metrics(be, buf, len) : 0;
}

int hubfs_backend_check(struct hubfs_backend *be, char *msg, size_t len)
{
	int rc = be_fault("check");

	if (rc) {
		snprintf(msg, len, "injected fault: %s", strerror(-rc));
		return rc;
	}
	rc = be->ops->check(be, msg, len);
	BE_TRACE(be, "check", "", rc);
	return rc;
}

int hubfs_backend_statfs(struct hubfs_backend *be, struct statvfs *st)
{
	int rc = be_fault("statfs");

	if (!rc)
		rc = be->ops->statfs(be, st);
	BE_TRACE(be, "statfs", "", rc);
	return rc;
}

int hubfs_backend_recover(struct hubfs_backend *be)
{
	int rc = be->ops->recover(be);

	BE_TRACE(be, "recover", "", rc);
	return rc;
}

int hubfs_backend_upload_begin(struct hubfs_backend *be, const char *key, struct hubfs_upload **out)
{
	int rc = be_fault("upload_begin");

	*out = NULL;
	if (!rc)
		rc = be->ops->upload_begin(be, key, out);
	BE_TRACE(be, "upload_begin", key, rc);
	return rc;
}

ssize_t hubfs_backend_upload_write(struct hubfs_backend *be, struct hubfs_upload *up,
				   const void *buf, size_t n, off_t off)
{
	int rc = be_fault("upload_write");

	if (rc)
		return rc;
	return be->ops->upload_write(up, buf, n, off);
}

int hubfs_backend_upload_truncate(struct hubfs_backend *be, struct hubfs_upload *up, off_t size)
{
	int rc = be_fault("upload_truncate");

	if (!rc)
		rc = be->ops->upload_truncate(up, size);
	BE_TRACE(be, "upload_truncate", "", rc);
	return rc;
}

int hubfs_backend_upload_sync(struct hubfs_backend *be, struct hubfs_upload *up)
{
	int rc = be_fault("upload_sync");

	if (!rc)
		rc = be->ops->upload_sync(up);
	return rc;
}

const char *hubfs_backend_upload_staged_path(struct hubfs_backend *be, struct hubfs_upload *up)
{
	return be->ops->upload_staged_path(up);
}

int hubfs_backend_upload_commit(struct hubfs_backend *be, struct hubfs_upload *up, const char *key,
				struct hubfs_video_meta *meta)
{
	int rc = be_fault("upload_commit");

	if (rc) {
		be->ops->upload_abort(up);
		return rc;
	}
	rc = be->ops->upload_commit(up, key, meta);
	BE_TRACE(be, "upload_commit", key, rc);
	return rc;
}

void hubfs_backend_upload_abort(struct hubfs_backend *be, struct hubfs_upload *up)
{
	if (!up)
		return;
	be->ops->upload_abort(up);
	BE_TRACE(be, "upload_abort", "", 0);
}

int hubfs_backend_read_open(struct hubfs_backend *be, const char *key, struct hubfs_reader **out)
{
	int rc = be_fault("read_open");

	*out = NULL;
	if (!rc)
		rc = be->ops->read_open(be, key, out);
	BE_TRACE(be, "read_open", key, rc);
	return rc;
}

ssize_t hubfs_backend_read(struct hubfs_backend *be, struct hubfs_reader *r, void *buf, size_t n,
			   off_t off)
{
	int rc = be_fault("read");

	if (rc)
		return rc;
	return be->ops->read(r, buf, n, off);
}

int hubfs_backend_read_fd(struct hubfs_backend *be, struct hubfs_reader *r)
{
	if (!(be->ops->caps & HUBFS_BE_CAP_READ_FD) || be_fault("read"))
		return -ENOTSUP;
	return be->ops->read_fd(r);
}

void hubfs_backend_read_close(struct hubfs_backend *be, struct hubfs_reader *r)
{
	if (r)
		be->ops->read_close(r);
}

int hubfs_backend_remove(struct hubfs_backend *be, const char *key)
{
	int rc = be_fault("remove");

	if (!rc)
		rc = be->ops->remove(be, key);
	BE_TRACE(be, "remove", key, rc);
	return rc;
}

int hubfs_backend_rename(struct hubfs_backend *be, const char *from, const char *to)
{
	int rc = be_fault("rename");

	if (!rc)
		rc = be->ops->rename(be, from, to);
	hubfs_dbg(HUBFS_CAT_BACKEND, "backend %s: rename '%s' -> '%s' -> %d", be->ops->name, from,
		  to, rc);
	return rc;
}

int hubfs_backend_mkdir(struct hubfs_backend *be, const char *key, uint32_t mode)
{
	int rc = be_fault("mkdir");

	if (!rc)
		rc = be->ops->mkdir(be, key, mode);
	BE_TRACE(be, "mkdir", key, rc);
	return rc;
}

int hubfs_backend_rmdir(struct hubfs_backend *be, const char *key)
{
	int rc = be_fault("rmdir");

	if (!rc)
		rc = be->ops->rmdir(be, key);
	BE_TRACE(be, "rmdir", key, rc);
	return rc;
}

int hubfs_backend_list(struct hubfs_backend *be, const char *key, hubfs_backend_list_fn fn,
		       void *arg)
{
	int rc = be_fault("list");

	if (!rc)
		rc = be->ops->list(be, key, fn, arg);
	BE_TRACE(be, "list", key, rc);
	return rc;
}

int hubfs_backend_stat(struct hubfs_backend *be, const char *key, struct hubfs_backend_entry *e)
{
	int rc = be_fault("stat");

	if (!rc)
		rc = be->ops->stat(be, key, e);
	BE_TRACE(be, "stat", key, rc);
	return rc;
}

int hubfs_backend_meta_get(struct hubfs_backend *be, const char *key, struct hubfs_video_meta *meta)
{
	int rc = be_fault("meta_get");

	if (!rc)
		rc = be->ops->meta_get(be, key, meta);
	BE_TRACE(be, "meta_get", key, rc);
	return rc;
}

int hubfs_backend_meta_put(struct hubfs_backend *be, const char *key, struct hubfs_video_meta *meta)
{
	int rc = be_fault("meta_put");

	if (!rc)
		rc = be->ops->meta_put(be, key, meta);
	BE_TRACE(be, "meta_put", key, rc);
	return rc;
}
