/* dbsecret — see dbsecret.h. Every buffer that held secret material is
 * wiped before it is freed. */
#include "dbsecret.h"
#include "secrets.h"
#include "util.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define DBSECRET_MAX_FILE (64 * 1024)

bool dbsecret_opt_check(const char *ref, char *err, size_t errcap)
{
    dbsecret_ref r;
    return dbsecret_parse(ref, &r, err, errcap);
}

bool dbsecret_parse(const char *ref, dbsecret_ref *out, char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    if (!ref || !*ref || !strcmp(ref, "rds-managed")) {
        out->kind = DBSECRET_RDS_MANAGED;
        return true;
    }
    if (!strncmp(ref, "file:", 5)) {
        const char *path = ref + 5;
        if (path[0] != '/') {
            snprintf(err, errcap, "--db-secret file: needs an absolute path every worker can read");
            return false;
        }
        out->kind = DBSECRET_FILE;
        if (!fc_strlcpy(out->value, path, sizeof out->value)) {
            snprintf(err, errcap, "--db-secret path too long");
            return false;
        }
        return true;
    }
    if (!strncmp(ref, "arn:", 4)) {
        /* arn:PARTITION:secretsmanager:REGION:ACCOUNT:secret:NAME */
        char tmp[1024];
        if (!fc_strlcpy(tmp, ref, sizeof tmp)) {
            snprintf(err, errcap, "--db-secret ARN too long");
            return false;
        }
        int colons = 0;
        for (const char *p = ref; *p; p++) colons += *p == ':';
        if (colons < 6 || !strstr(ref, ":secretsmanager:") || !strstr(ref, ":secret:")) {
            snprintf(err, errcap, "--db-secret must be rds-managed, a Secrets Manager secret ARN or file:PATH");
            return false;
        }
        out->kind = DBSECRET_ARN;
        fc_strlcpy(out->value, ref, sizeof out->value);
        return true;
    }
    snprintf(err, errcap, "--db-secret must be rds-managed, a Secrets Manager secret ARN or file:PATH");
    return false;
}

void dbsecret_format(const dbsecret_ref *r, char *out, size_t cap)
{
    switch (r->kind) {
    case DBSECRET_RDS_MANAGED: snprintf(out, cap, "rds-managed"); break;
    case DBSECRET_ARN: snprintf(out, cap, "%s", r->value); break;
    case DBSECRET_FILE: snprintf(out, cap, "file:%s", r->value); break;
    }
}

/* Overwrite every string in a JSON tree before it is freed. */
static void wipe_json(json_t *j)
{
    if (json_is_string(j)) {
        fc_wipe((void *)json_string_value(j), json_string_length(j));
    } else if (json_is_object(j)) {
        const char *k;
        json_t *v;
        json_object_foreach(j, k, v) wipe_json(v);
    } else if (json_is_array(j)) {
        size_t i;
        json_t *v;
        json_array_foreach(j, i, v) wipe_json(v);
    }
}

static bool take_pair(json_t *obj, db_credentials *out, char *err, size_t errcap)
{
    json_t *u = json_object_get(obj, "username"), *p = json_object_get(obj, "password");
    if (!json_is_string(u) || !json_is_string(p)) {
        snprintf(err, errcap, "secret has no string \"username\" and \"password\"");
        return false;
    }
    if (!fc_strlcpy(out->username, json_string_value(u), sizeof out->username) ||
        !fc_strlcpy(out->password, json_string_value(p), sizeof out->password) || !out->username[0]) {
        fc_wipe(out, sizeof *out);
        snprintf(err, errcap, "secret username or password empty or too long");
        return false;
    }
    return true;
}

bool dbsecret_from_json(const char *json_text, const char *instance_id, db_credentials *out,
                        char *err, size_t errcap)
{
    memset(out, 0, sizeof *out);
    json_error_t je;
    json_t *root = json_loads(json_text, JSON_REJECT_DUPLICATES, &je);
    bool ok = false;
    if (!root || !json_is_object(root)) {
        /* je.text can quote the input: do not copy it */
        snprintf(err, errcap, "secret is not a JSON object (line %d)", root ? 0 : je.line);
        goto cleanup;
    }
    json_t *insts = json_object_get(root, "instances"), *def = json_object_get(root, "default");
    if (insts || def) {
        json_t *mine = instance_id && json_is_object(insts) ? json_object_get(insts, instance_id) : NULL;
        if (mine) {
            ok = take_pair(mine, out, err, errcap);
        } else if (json_is_object(def)) {
            ok = take_pair(def, out, err, errcap);
        } else {
            snprintf(err, errcap, "secret file has no entry for instance %s and no default", instance_id ? instance_id : "?");
        }
        goto cleanup;
    }
    ok = take_pair(root, out, err, errcap);
cleanup:
    wipe_json(root); /* jansson keeps its own copies of the strings */
    json_decref(root);
    return ok;
}

static bool read_file(const char *path, char **out, char *err, size_t errcap)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errcap, "cannot open --db-secret file %s", path);
        return false;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || st.st_size > DBSECRET_MAX_FILE) {
        fclose(f);
        snprintf(err, errcap, "--db-secret file %s is larger than %d bytes", path, DBSECRET_MAX_FILE);
        return false;
    }
    char *buf = calloc(1, (size_t)st.st_size + 1);
    size_t n = buf ? fread(buf, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!buf || n != (size_t)st.st_size) {
        if (buf) fc_wipe(buf, (size_t)st.st_size);
        free(buf);
        snprintf(err, errcap, "cannot read --db-secret file %s", path);
        return false;
    }
    *out = buf;
    return true;
}

bool dbsecret_resolve(aws_client *c, const dbsecret_ref *r, const char *instance_id,
                      const char *master_secret_arn, db_credentials **out, char *err, size_t errcap)
{
    return dbsecret_resolve_version(c, r, instance_id, master_secret_arn, NULL, out, NULL, 0, err, errcap);
}

bool dbsecret_resolve_version(aws_client *c, const dbsecret_ref *r, const char *instance_id,
                              const char *master_secret_arn, const char *version_id, db_credentials **out,
                              char *version_out, size_t vcap, char *err, size_t errcap)
{
    *out = NULL;
    if (version_out && vcap) version_out[0] = 0;
    db_credentials *cred = calloc(1, sizeof *cred);
    char *text = NULL;
    size_t text_len = 0;
    secret_value *sv = NULL;
    bool ok = false;
    if (!cred) {
        snprintf(err, errcap, "out of memory");
        return false;
    }
    if (r->kind == DBSECRET_FILE) {
        if (!read_file(r->value, &text, err, errcap)) goto cleanup;
        text_len = strlen(text);
        ok = dbsecret_from_json(text, instance_id, cred, err, errcap);
        goto cleanup;
    }
    const char *arn = r->kind == DBSECRET_ARN ? r->value : master_secret_arn;
    if (!arn || !*arn) {
        snprintf(err, errcap, "instance %s has no RDS-managed master user secret (ManageMasterUserPassword); "
                 "use --db-secret with a Secrets Manager ARN or file:PATH", instance_id);
        goto cleanup;
    }
    if (!c) {
        snprintf(err, errcap, "no AWS client to read secret %s", arn);
        goto cleanup;
    }
    aws_error ae;
    memset(&ae, 0, sizeof ae);
    bool any = !version_id || !*version_id;
    if (!secrets_get_value_version(c, arn, any ? NULL : version_id, &sv, &ae)) {
        snprintf(err, errcap, "cannot read secret %s%s%s: %s %s", arn, any ? "" : " version ", any ? "" : version_id,
                 ae.code, ae.message);
        goto cleanup;
    }
    if (version_out && vcap) fc_strlcpy(version_out, sv->version_id, vcap);
    if (!sv->string) {
        snprintf(err, errcap, "secret %s is binary, expected JSON with username and password", arn);
        goto cleanup;
    }
    ok = dbsecret_from_json(sv->string, instance_id, cred, err, errcap);
cleanup:
    secret_value_free(sv);
    if (text) {
        fc_wipe(text, text_len);
        free(text);
    }
    if (!ok) {
        db_credentials_free(cred);
        return false;
    }
    *out = cred;
    return true;
}

void db_credentials_free(db_credentials *cred)
{
    if (!cred) return;
    fc_wipe(cred, sizeof *cred);
    free(cred);
}
