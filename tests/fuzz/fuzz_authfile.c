/* Docker config.json / containers auth.json credentials.  The input is
 * written to a per-process temp file that the lookup reads as --authfile.
 * PATH, DOCKER_CONFIG and HOME point into an empty directory so no real
 * credentials are read and no credential helper can run. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include <ociimg/registry.h>

#include "fuzz_common.h"

static char g_dir[] = "/tmp/ociimg-fuzz-authfile-XXXXXX";
static char g_path[sizeof(g_dir) + 32];

static void cleanup(void)
{
    unlink(g_path);
    rmdir(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (!mkdtemp(g_dir))
        abort();
    snprintf(g_path, sizeof(g_path), "%s/auth.json", g_dir);
    setenv("PATH", g_dir, 1);
    setenv("DOCKER_CONFIG", g_dir, 1);
    setenv("HOME", g_dir, 1);
    unsetenv("REGISTRY_AUTH_FILE");
    atexit(cleanup);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct {
        const char *registry, *repository;
    } q[] = {
        {"docker.io", "library/alpine"},
        {"registry.example.com", "team/app"},
        {"localhost:5000", NULL},
    };
    int fd = open(g_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);

    struct oreg_creds_opts opts = {.authfile = g_path, .helper_timeout_ms = 1000};
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        struct oci_error *err = NULL;
        struct oreg_creds *c = NULL;
        if (oreg_creds_lookup(&c, q[i].registry, q[i].repository, &opts, &err) > 0)
            oreg_creds_free(c);
        fuzz_err_drop(&err);
    }
    return 0;
}
