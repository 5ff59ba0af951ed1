/*
 * init.c - bringing the AWS client and the object store up from the
 * loaded manifest, and down at exit.
 *
 * host_config's aws_* and storage_* strings belong to the config (freed by
 * host_config_free()); the client and the store keep copies of what they
 * need.
 */
#include "aws/aws.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void host_aws_register_resolvers(void)
{
    host_config_set_resolver("aws-sm", host_aws_sm_resolve);
}

int host_aws_init(const host_config *c, char *err, size_t errlen)
{
    /* Before any thread exists: curl_global_init is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        snprintf(err, errlen, "aws: libcurl failed to initialise");
        return TQ_ERR;
    }
    if ((c->aws_access_key_id != NULL) != (c->aws_secret_access_key != NULL)) {
        snprintf(err, errlen,
                 "aws: set both access_key_id and secret_access_key, or "
                 "neither (then AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY "
                 "or instance metadata are used)");
        return TQ_E_INVALID;
    }
    host_aws_conf ac = {
        .region = c->aws_region,
        .access_key_id = c->aws_access_key_id,
        .secret_access_key = c->aws_secret_access_key,
        .session_token = c->aws_session_token,
        .imds_endpoint = c->aws_imds_endpoint,
        .connect_timeout_ms = c->aws_connect_timeout_ms,
        .timeout_ms = c->aws_timeout_ms,
        .max_attempts = c->aws_max_attempts};
    int rc = host_aws_configure(&ac);
    if (rc != TQ_OK) {
        snprintf(err, errlen, "aws: out of memory");
        return rc;
    }
    rc = host_store_init(c, err, errlen);
    if (rc != TQ_OK)
        return rc;
    host_log(TQ_LOG_INFO, "store: %s%s%s (aws region %s)", host_store_kind(),
             c->storage_bucket && !strcmp(host_store_kind(), "s3")
                 ? ", bucket "
                 : "",
             c->storage_bucket && !strcmp(host_store_kind(), "s3")
                 ? c->storage_bucket
                 : "",
             host_aws_region());
    return TQ_OK;
}

void host_aws_fini(void)
{
    host_store_shutdown();
    host_secrets_forget();
    host_aws_shutdown();
    curl_global_cleanup();
}
