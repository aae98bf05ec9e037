/* ociimg version: what this binary is and the libraries it runs with. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json_c_version.h>
#include <openssl/crypto.h>
#include <seccomp.h>
#include <zlib.h>
#include <zstd.h>

#include <ociimg/apply.h>
#include <ociimg/cleanup.h>
#include <ociimg/json.h>
#include <ociimg/registry_client.h>

#include "cmd.h"
#include "ociimg_build_info.h"

#define N_LIBS 7

struct lib {
    const char *name;
    char version[64];
};

/* The versions loaded at run time, which may differ from the headers built
 * against: that is what a bug report needs. */
static void runtime_versions(struct lib libs[N_LIBS])
{
    /* Opened on first use (ociimg/dl.h): this opens them. */
    const char *cv = oreg_curl_version();
    const struct scmp_version *sv = seccomp_version();
    const char *av = oimg_archive_version(); /* "libarchive 3.6.2" */
    if (av && strncmp(av, "libarchive ", 11) == 0)
        av += 11;
    snprintf(libs[0].version, sizeof(libs[0].version), "%s", cv ? cv : "not loadable");
    snprintf(libs[1].version, sizeof(libs[1].version), "%s",
             OpenSSL_version(OPENSSL_VERSION_STRING));
    snprintf(libs[2].version, sizeof(libs[2].version), "%s", zlibVersion());
    snprintf(libs[3].version, sizeof(libs[3].version), "%s", ZSTD_versionString());
    snprintf(libs[4].version, sizeof(libs[4].version), "%s", av ? av : "not loadable");
    snprintf(libs[5].version, sizeof(libs[5].version), "%s", json_c_version());
    if (sv)
        snprintf(libs[6].version, sizeof(libs[6].version), "%u.%u.%u", sv->major, sv->minor,
                 sv->micro);
    else
        snprintf(libs[6].version, sizeof(libs[6].version), "?");
}

static int run(int argc, char **argv)
{
    static const struct option opts[] = {
        {"json", no_argument, NULL, 'j'},
        {0},
    };
    bool json = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 'j')
            return cmd_bad_option(&ociimg_cmd_version, argv);
        json = true;
    }
    if (optind != argc)
        return cmd_usage_error(&ociimg_cmd_version, "takes no arguments");

    struct lib libs[N_LIBS] = {{"libcurl", ""},    {"openssl", ""}, {"zlib", ""},      {"zstd", ""},
                               {"libarchive", ""}, {"json-c", ""},  {"libseccomp", ""}};
    runtime_versions(libs);
    if (!json) {
        printf("ociimg version %s\ncommit: %s\n", OCIIMG_VERSION, OCIIMG_GIT_COMMIT);
        for (size_t i = 0; i < N_LIBS; i++)
            printf("%s: %s\n", libs[i].name, libs[i].version);
        return EXIT_OK;
    }
    _cleanup_json_ json_object *o = json_object_new_object();
    json_object *l = json_object_new_object();
    json_object_object_add(o, "version", json_object_new_string(OCIIMG_VERSION));
    json_object_object_add(o, "commit", json_object_new_string(OCIIMG_GIT_COMMIT));
    for (size_t i = 0; i < N_LIBS; i++)
        json_object_object_add(l, libs[i].name, json_object_new_string(libs[i].version));
    json_object_object_add(o, "libraries", l);
    _cleanup_free_ char *txt = oimg_json_dump(o, true);
    if (!txt)
        return EXIT_FAIL;
    printf("%s\n", txt);
    return EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_version = {
    .name = "version",
    .run = run,
    .summary = "print the version, git commit and library versions",
    .usage = "Usage: ociimg version [--json]\n\n"
             "Prints ociimg's version, the git commit it was built from (\"unknown\" when built\n"
             "outside a git checkout; \"-dirty\" when the checkout had changes) and the versions\n"
             "of the libraries loaded at run time.  `ociimg --version` is the same.\n\n"
             "Options:\n"
             "  --json  print a JSON object: {version, commit, libraries {NAME: VERSION}}\n\n"
             "Examples:\n"
             "  ociimg version\n"
             "  ociimg version --json\n",
};
