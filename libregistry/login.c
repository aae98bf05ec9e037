/* `login`: are these credentials accepted?  Asked the way a pull would use
 * them: the registry's challenge decides between a token request with Basic
 * credentials and Basic on the registry itself. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ociimg/cleanup.h>

#include "client_private.h"
#include "registry_private.h"

int oreg_login_check(struct oreg_client *c, const char *registry, const char *username,
                     const char *password, struct oci_error **err)
{
    _cleanup_free_ char *name = NULL;
    int r = oreg_registry_normalize(&name, registry, err);
    if (r < 0)
        return r;
    const char *api = strcmp(name, OREG_DOCKER_HUB) == 0 ? OREG_DOCKER_HUB_API : name;
    struct reg_host *h = NULL;
    if ((r = client_host(&h, c, api, name, c->o.insecure, true, err)) < 0)
        return r;
    /* These credentials, whatever the config files say. */
    oreg_creds_free(h->creds);
    h->creds = calloc(1, sizeof(*h->creds));
    if (!h->creds || !(h->creds->username = strdup(username)) ||
        !(h->creds->password = strdup(password)) || !(h->creds->source = strdup("the login")))
        return oci_error_set(err, OCI_ERR_NOMEM, "out of memory");
    h->creds_done = true;
    if (auth_ping(c, h, err) < 0)
        return oci_error_wrap(err, "login to %s", name);
    if (h->bearer) {
        r = auth_fetch_token(c, h, NULL, err);
        return r < 0 ? oci_error_wrap(err, "login to %s", name) : 0;
    }
    if (!h->basic) {
        client_note(c, api, "%s does not ask for credentials; storing them anyway", api);
        return 0;
    }
    struct call_spec s = {.host = h, .path = "/v2/", .what = "login check", .raw_status = true};
    struct reg_call call;
    if ((r = call_init(&call, c, &s, err)) < 0)
        return r;
    r = call_run(&call, err);
    long st = r < 0 ? 0 : call.req->h.status;
    call_clear(&call);
    if (r < 0)
        return oci_error_wrap(err, "login to %s", name);
    if (st == 401 || st == 403)
        return oci_error_set(err, OCI_ERR_AUTH,
                             "login to %s: the registry refused the user name or password (%ld)",
                             name, st);
    if (st < 200 || st >= 300)
        return oci_error_set(err, OCI_ERR_AUTH, "login to %s: the registry answered %ld", name, st);
    return 0;
}
