/* dlopen of the libraries only some commands need (see ociimg/dl.h). */
#include <dlfcn.h>
#include <stdio.h>

#include <ociimg/dl.h>

int oci_dl_open(const char *soname, const struct oci_dl_sym *syms, size_t n, struct oci_error **err)
{
    /* RTLD_NODELETE: the pointers stay valid whatever a later dlclose does. */
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
    if (!h) {
        const char *e = dlerror();
        return oci_error_set(err, OCI_ERR_UNSUPPORTED, "load %s: %s", soname, e ? e : "not found");
    }
    for (size_t i = 0; i < n; i++) {
        dlerror();
        void *f = dlsym(h, syms[i].name);
        if (!f) {
            for (size_t j = 0; j < i; j++)
                *syms[j].fn = NULL;
            dlclose(h);
            return oci_error_set(err, OCI_ERR_UNSUPPORTED, "load %s: no function %s (too old?)",
                                 soname, syms[i].name);
        }
        *syms[i].fn = f;
    }
    return 0;
}

int oci_dl_once(struct oci_dl_once *once, int (*load)(struct oci_error **err),
                struct oci_error **err)
{
    pthread_mutex_lock(&once->mu);
    if (!once->done) {
        struct oci_error *e = NULL;
        int r = load(&e);
        once->code = r < 0 ? r : 0;
        if (r < 0)
            snprintf(once->msg, sizeof(once->msg), "%s", e && e->msg ? e->msg : "load failed");
        oci_error_free(e);
        once->done = true;
    }
    int code = once->code;
    pthread_mutex_unlock(&once->mu);
    return code < 0 ? oci_error_set(err, -code, "%s", once->msg) : 0;
}
