/* test_awscred — shared config/credentials parsing, env source, chain order,
 * ISO 8601 expiry parsing, credential_process (run, parsed, refused) and
 * the SDKs' retry settings (env over profile, invalid values refused). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "awscred.h"

static char g_dir[256];

static void write_file(const char *name, const char *text, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", g_dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof(g_dir), "/tmp/fc-awscred-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_WEB_IDENTITY_TOKEN_FILE");
    unsetenv("AWS_ROLE_ARN");
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *CREDS =
    "# comment\n"
    "[default]\n"
    "aws_access_key_id = AKIDDEFAULT\n"
    "aws_secret_access_key = secretdefault\n"
    "\n"
    "[dev]\n"
    "aws_access_key_id=AKIDDEV   \n"
    "aws_secret_access_key =  secret dev with spaces \n"
    "aws_session_token = tokdev\n"
    "[profile notme]\n"
    "aws_access_key_id = WRONG\n";

static const char *CONFIG =
    "[default]\n"
    "region = eu-west-1\n"
    "[profile dev]\n"
    "region = us-west-2\n"
    "aws_access_key_id = FROMCONFIG\n"
    "s3 =\n"
    "  max_concurrent_requests = 10\n"
    "[profile cross]\n"
    "role_arn = arn:aws:iam::222222222222:role/fleetcrypt\n"
    "source_profile = dev\n"
    "role_session_name = sess ; inline comment\n"
    "external_id = ext-1\n"
    "[dev]\n"
    "region = WRONG-section-in-config\n";

static void test_profiles(void **state)
{
    (void)state;
    char cp[512], fp[512];
    aws_profile p;
    aws_error err;
    write_file("credentials", CREDS, cp, sizeof(cp));
    write_file("config", CONFIG, fp, sizeof(fp));

    assert_true(aws_profile_load(cp, fp, "default", &p, &err));
    assert_true(p.found);
    assert_string_equal(p.access_key_id, "AKIDDEFAULT");
    assert_string_equal(p.secret_access_key, "secretdefault");
    assert_string_equal(p.region, "eu-west-1");

    assert_true(aws_profile_load(cp, fp, "dev", &p, &err));
    assert_true(p.found);
    assert_string_equal(p.access_key_id, "AKIDDEV"); /* credentials file wins */
    assert_string_equal(p.secret_access_key, "secret dev with spaces");
    assert_string_equal(p.session_token, "tokdev");
    assert_string_equal(p.region, "us-west-2");      /* "[dev]" in config is not a profile */

    assert_true(aws_profile_load(cp, fp, "cross", &p, &err));
    assert_true(p.found);
    assert_string_equal(p.role_arn, "arn:aws:iam::222222222222:role/fleetcrypt");
    assert_string_equal(p.source_profile, "dev");
    assert_string_equal(p.role_session_name, "sess");
    assert_string_equal(p.external_id, "ext-1");

    assert_true(aws_profile_load(cp, fp, "nosuch", &p, &err));
    assert_false(p.found);
    /* a missing file is not an error */
    assert_true(aws_profile_load("/nonexistent/x", "/nonexistent/y", "default", &p, &err));
    assert_false(p.found);
    aws_profile_wipe(&p);
}

static void test_env_first(void **state)
{
    (void)state;
    char cp[512], fp[512];
    aws_creds c;
    aws_error err;
    write_file("credentials", CREDS, cp, sizeof(cp));
    write_file("config", CONFIG, fp, sizeof(fp));
    setenv("AWS_SHARED_CREDENTIALS_FILE", cp, 1);
    setenv("AWS_CONFIG_FILE", fp, 1);

    setenv("AWS_ACCESS_KEY_ID", "AKIDENV", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secretenv", 1);
    setenv("AWS_SESSION_TOKEN", "tokenv", 1);
    aws_cred_provider *p = aws_cred_provider_new(NULL, NULL, &err);
    assert_non_null(p);
    assert_true(aws_cred_get(p, &c, &err));
    assert_string_equal(c.access_key_id, "AKIDENV");
    assert_string_equal(c.session_token, "tokenv");
    assert_string_equal(c.source, "env");
    aws_cred_provider_free(p);

    /* without env: AWS_PROFILE=dev from the files */
    unsetenv("AWS_ACCESS_KEY_ID");
    unsetenv("AWS_SECRET_ACCESS_KEY");
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_PROFILE", "dev", 1);
    p = aws_cred_provider_new(NULL, NULL, &err);
    assert_true(aws_cred_get(p, &c, &err));
    assert_string_equal(c.access_key_id, "AKIDDEV");
    assert_string_equal(c.source, "profile:dev");
    aws_cred_provider_free(p);

    /* a named profile that does not exist is an error, not a fall-through */
    setenv("AWS_PROFILE", "nosuch", 1);
    p = aws_cred_provider_new(NULL, NULL, &err);
    assert_false(aws_cred_get(p, &c, &err));
    assert_string_equal(err.code, "ProfileNotFound");
    aws_cred_provider_free(p);

    /* role_arn profile without STS ops: clean failure, no crash */
    setenv("AWS_PROFILE", "cross", 1);
    p = aws_cred_provider_new(NULL, NULL, &err);
    assert_false(aws_cred_get(p, &c, &err));
    assert_int_equal(err.kind, AWS_ERR_AUTH);
    aws_cred_provider_free(p);

    /* nothing at all (IMDS disabled): NoCredentials */
    unsetenv("AWS_PROFILE");
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/c", 1);
    setenv("AWS_CONFIG_FILE", "/nonexistent/f", 1);
    p = aws_cred_provider_new(NULL, NULL, &err);
    assert_false(aws_cred_get(p, &c, &err));
    assert_string_equal(err.code, "NoCredentials");
    aws_cred_provider_free(p);
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_CONFIG_FILE");
}

/* A source_profile chain with AssumeRole goes through the STS ops with the
 * source profile's keys; the result is cached until near expiry. */
static int g_assume_calls;
static bool fake_assume(void *ctx, const aws_creds *src, const char *role, const char *sess,
                        const char *ext, int dur, aws_creds *out, aws_error *err)
{
    (void)ctx, (void)dur, (void)err;
    g_assume_calls++;
    assert_string_equal(src->access_key_id, "AKIDDEV");
    assert_string_equal(role, "arn:aws:iam::222222222222:role/fleetcrypt");
    assert_string_equal(sess, "sess");
    assert_string_equal(ext, "ext-1");
    memset(out, 0, sizeof(*out));
    snprintf(out->access_key_id, sizeof(out->access_key_id), "ASIAROLE");
    snprintf(out->secret_access_key, sizeof(out->secret_access_key), "rolesecret");
    snprintf(out->session_token, sizeof(out->session_token), "roletoken");
    out->expires_ms = (int64_t)time(NULL) * 1000 + 3600 * 1000;
    return true;
}

static void test_assume_role_profile(void **state)
{
    (void)state;
    char cp[512], fp[512];
    aws_creds c;
    aws_error err;
    write_file("credentials", CREDS, cp, sizeof(cp));
    write_file("config", CONFIG, fp, sizeof(fp));
    setenv("AWS_SHARED_CREDENTIALS_FILE", cp, 1);
    setenv("AWS_CONFIG_FILE", fp, 1);
    setenv("AWS_PROFILE", "cross", 1);
    aws_cred_sts_ops ops = {.assume_role = fake_assume};
    aws_cred_provider *p = aws_cred_provider_new(NULL, &ops, &err);
    g_assume_calls = 0;
    assert_true(aws_cred_get(p, &c, &err));
    assert_string_equal(c.access_key_id, "ASIAROLE");
    assert_string_equal(c.source, "assume-role");
    assert_true(aws_cred_get(p, &c, &err));
    assert_int_equal(g_assume_calls, 1); /* cached */
    aws_cred_invalidate(p);
    assert_true(aws_cred_get(p, &c, &err));
    assert_int_equal(g_assume_calls, 2);
    aws_cred_provider_free(p);
    unsetenv("AWS_PROFILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
    unsetenv("AWS_CONFIG_FILE");
}

static void test_iso8601(void **state)
{
    (void)state;
    int64_t ms = 0;
    assert_true(aws_parse_iso8601("2015-08-30T12:36:00Z", &ms));
    assert_int_equal(ms, 1440938160000LL);
    assert_true(aws_parse_iso8601("2015-08-30T12:36:00.359Z", &ms));
    assert_int_equal(ms, 1440938160359LL);
    assert_true(aws_parse_iso8601("2015-08-30T14:36:00+02:00", &ms));
    assert_int_equal(ms, 1440938160000LL);
    assert_false(aws_parse_iso8601("yesterday", &ms));
    assert_false(aws_parse_iso8601("2015-13-30T12:36:00Z", &ms));
}

static void test_credential_process(void **state)
{
    (void)state;
    aws_creds c;
    aws_error err;
    /* through /bin/sh -c: quoting and pipes work as in the SDKs that use a shell */
    assert_true(aws_cred_from_process(
        "p", "printf '%s' '{\"Version\": 1, \"AccessKeyId\": \"AKIDPROC\", \"SecretAccessKey\": \"s3cr3t\", "
             "\"SessionToken\": \"tok\", \"Expiration\": \"2099-01-01T00:00:00Z\"}' | cat",
        &c, &err));
    assert_string_equal(c.access_key_id, "AKIDPROC");
    assert_string_equal(c.secret_access_key, "s3cr3t");
    assert_string_equal(c.session_token, "tok");
    assert_string_equal(c.source, "process:p");
    assert_true(c.expires_ms > 4000000000000LL);
    aws_creds_wipe(&c);
    /* non-zero exit, wrong version, not JSON: refused, the output never quoted */
    assert_false(aws_cred_from_process("p", "echo '{\"Version\":1,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"LEAK\"}'; exit 7",
                                       &c, &err));
    assert_non_null(strstr(err.message, "exited with status 7"));
    assert_false(aws_cred_from_process("p", "echo '{\"Version\":2,\"AccessKeyId\":\"A\",\"SecretAccessKey\":\"LEAK\"}'",
                                       &c, &err));
    assert_non_null(strstr(err.message, "Version"));
    assert_null(strstr(err.message, "LEAK"));
    assert_false(aws_cred_from_process("p", "echo LEAK LEAK", &c, &err));
    assert_null(strstr(err.message, "LEAK"));
    assert_false(aws_creds_valid(&c));
}

static void test_retry_settings(void **state)
{
    (void)state;
    char fp[512], mode[16];
    int n = -1;
    aws_error err;
    write_file("config", "[default]\nmax_attempts = 6\nretry_mode = legacy\n[profile bad]\nmax_attempts = lots\n", fp,
               sizeof(fp));
    setenv("AWS_CONFIG_FILE", fp, 1);
    setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
    unsetenv("AWS_MAX_ATTEMPTS");
    unsetenv("AWS_RETRY_MODE");
    assert_true(aws_retry_settings(NULL, &n, mode, sizeof mode, &err));
    assert_int_equal(n, 6);
    assert_string_equal(mode, "legacy");
    setenv("AWS_MAX_ATTEMPTS", "2", 1);
    setenv("AWS_RETRY_MODE", "adaptive", 1);
    assert_true(aws_retry_settings(NULL, &n, mode, sizeof mode, &err));
    assert_int_equal(n, 2);
    assert_string_equal(mode, "adaptive");
    setenv("AWS_MAX_ATTEMPTS", "21", 1);
    assert_false(aws_retry_settings(NULL, &n, mode, sizeof mode, &err));
    assert_string_equal(err.code, "InvalidConfig");
    unsetenv("AWS_MAX_ATTEMPTS");
    assert_false(aws_retry_settings("bad", &n, mode, sizeof mode, &err));
    assert_non_null(strstr(err.message, "max_attempts"));
    unsetenv("AWS_RETRY_MODE");
    write_file("config", "[default]\nregion = eu-west-1\n", fp, sizeof(fp));
    assert_true(aws_retry_settings(NULL, &n, mode, sizeof mode, &err));
    assert_int_equal(n, 0);
    assert_string_equal(mode, "");
    unsetenv("AWS_CONFIG_FILE");
    unsetenv("AWS_SHARED_CREDENTIALS_FILE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_profiles),
        cmocka_unit_test(test_env_first),
        cmocka_unit_test(test_assume_role_profile),
        cmocka_unit_test(test_iso8601),
        cmocka_unit_test(test_credential_process),
        cmocka_unit_test(test_retry_settings),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
