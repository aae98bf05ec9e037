/* dlopen of the libraries only some commands need (see ociimg/dl.h). */
#include <dlfcn.h>

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
