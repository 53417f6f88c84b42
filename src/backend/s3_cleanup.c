/*
 * s3_cleanup.c — `hubfs --s3-cleanup[=SECONDS]`: list the multipart uploads under the
 * configured bucket and prefix and abort those older than SECONDS (default an hour). A
 * crash between parts, or a client that gave up, leaves such uploads behind, invisible but
 * billed; the mount itself aborts its own failures and, at start, uploads a day old.
 *
 * Runs in the hubfs process before anything is mounted; single-threaded.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hubfs/backend.h"
#include "hubfs/config.h"

#include "backend/s3_client.h"

struct clean {
	struct hubfs_s3_client *client;
	int64_t cutoff_ns;
	FILE *out;
	unsigned int seen, aborted, failed;
};

static int clean_one(void *arg, const char *key, const char *upload_id, int64_t initiated_ns)
{
	struct clean *c = arg;
	int rc;

	c->seen++;
	if (initiated_ns > c->cutoff_ns) {
		fprintf(c->out, "kept     %s (started %" PRId64 " s ago)\n", key,
			((int64_t)time(NULL) * 1000000000 - initiated_ns) / 1000000000);
		return 0;
	}
	rc = hubfs_s3_mpu_abort(c->client, key, upload_id);
	if (rc) {
		c->failed++;
		fprintf(c->out, "FAILED   %s: %s\n", key, strerror(-rc));
		return 0;
	}
	c->aborted++;
	fprintf(c->out, "aborted  %s\n", key);
	return 0;
}

int hubfs_backend_s3_cleanup(const struct hubfs_config *cfg, unsigned int older_than_s, FILE *out,
			     char *err, size_t errlen)
{
	struct hubfs_s3_client_opts opts = { 0 };
	struct hubfs_s3_creds creds = { 0 };
	struct clean c = { .out = out };
	char prefix[1024];
	size_t plen;
	int rc;

	if (cfg->backend != HUBFS_BACKEND_S3 || !cfg->s3_bucket) {
		snprintf(err, errlen, "--s3-cleanup needs backend=s3 and s3_bucket");
		return -EINVAL;
	}
	plen = strlen(cfg->s3_prefix ? cfg->s3_prefix : "");
	snprintf(prefix, sizeof(prefix), "%s%s", cfg->s3_prefix ? cfg->s3_prefix : "",
		 plen && cfg->s3_prefix[plen - 1] != '/' ? "/" : "");
	rc = hubfs_s3_creds_load(&creds, cfg, err, errlen);
	if (rc)
		return rc;
	opts.endpoint = cfg->s3_endpoint;
	opts.region = cfg->s3_region;
	opts.bucket = cfg->s3_bucket;
	opts.creds = &creds;
	opts.retries = 4;
	rc = hubfs_s3_client_new(&c.client, &opts, err, errlen);
	if (rc)
		goto out;
	c.cutoff_ns = ((int64_t)time(NULL) - (int64_t)older_than_s) * 1000000000;
	rc = hubfs_s3_mpu_list(c.client, prefix, clean_one, &c);
	if (rc < 0) {
		snprintf(err, errlen, "cannot list the multipart uploads of '%s' under '%s': %s",
			 cfg->s3_bucket, prefix,
			 rc == -EOPNOTSUPP ? "the store does not support it" : strerror(-rc));
		goto out;
	}
	fprintf(out, "%u multipart uploads under s3://%s/%s: %u aborted, %u kept, %u failed\n",
		c.seen, cfg->s3_bucket, prefix, c.aborted, c.seen - c.aborted - c.failed, c.failed);
	rc = c.failed ? -EIO : 0;
	if (rc)
		snprintf(err, errlen, "%u uploads could not be aborted", c.failed);
out:
	hubfs_s3_client_free(c.client);
	hubfs_s3_creds_release(&creds);
	return rc;
}
