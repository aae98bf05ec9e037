/* Real whiteout layers from ../shared/fixtures (see each SOURCE.md):
 * regclient's layer-wh.tar (AUFS whiteout + opaque marker) over a base
 * layer, and go-containerregistry's whiteout docker-saves, applied layer by
 * layer and compared with the rootfs their SOURCE.md describes. */
#include <archive.h>
#include <archive_entry.h>

#include "t.h"
#include "test_apply_util.h"

static char *tmp;
static const char *shared;

/* Copies member `name` of the tar at `tarpath` to `out`. */
static int extract_member(const char *tarpath, const char *name, const char *out)
{
    struct archive *a = archive_read_new();
    archive_read_support_format_tar(a);
    int r = -1;
    if (archive_read_open_filename(a, tarpath, 65536) != ARCHIVE_OK)
        goto done;
    struct archive_entry *e;
    while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
        const char *p = archive_entry_pathname(e);
        if (!p || strcmp(p, name) != 0)
            continue;
        int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
            break;
        r = archive_read_data_into_fd(a, fd) == ARCHIVE_OK ? 0 : -1;
        close(fd);
        break;
    }
done:
    archive_read_free(a);
    return r;
}

static int write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

/* A base layer for regclient's whiteout layer to act on. */
static int make_base(const char *path)
{
    struct archive *a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (archive_write_open_filename(a, path) != ARCHIVE_OK)
        return -1;
    struct archive_entry *e = archive_entry_new();
    const char *files[] = {"layer2.txt", "keep.txt", "exdir/old", "exdir/sub/x"};
    const char *dirs[] = {"exdir", "exdir/sub"};
    for (size_t i = 0; i < 2; i++) {
        archive_entry_clear(e);
        archive_entry_set_pathname(e, dirs[i]);
        archive_entry_set_filetype(e, AE_IFDIR);
        archive_entry_set_perm(e, 0755);
        archive_write_header(a, e);
    }
    for (size_t i = 0; i < 4; i++) {
        archive_entry_clear(e);
        archive_entry_set_pathname(e, files[i]);
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_perm(e, 0644);
        archive_entry_set_size(e, 2);
        archive_write_header(a, e);
        archive_write_data(a, "b\n", 2);
    }
    archive_entry_free(e);
    archive_write_close(a);
    archive_write_free(a);
    return 0;
}

static int apply_files(const char *root, const char **layers, size_t n, const char *media)
{
    mkdir(root, 0755);
    int rootfd = open(root, O_RDONLY | O_DIRECTORY);
    struct oimg_applier *a = NULL;
    struct oci_error *err = NULL;
    struct oimg_apply_opts o;
    oimg_apply_opts_init(&o);
    o.no_sync = true;
    int r = oimg_applier_new(&a, rootfd, &o, &err);
    for (size_t i = 0; r == 0 && i < n; i++) {
        int fd = open(layers[i], O_RDONLY);
        r = oimg_applier_apply_fd(a, media, fd, NULL, NULL, &err);
        close(fd);
    }
    if (r == 0)
        r = oimg_applier_finish(a, &err);
    if (r < 0)
        fprintf(stderr, "    %s\n", err ? err->msg : "?");
    oci_error_free(err);
    oimg_applier_free(a);
    close(rootfd);
    return r;
}

static int check_tree(const char *root, const char *spec_json)
{
    char spec[4096];
    xsnprintf(spec, sizeof(spec), "%s.spec.json", root);
    if (write_text(spec, spec_json) < 0)
        return -1;
    return treecmp_spec(spec, root);
}

static void test_regclient_layer_wh(void)
{
    char layer[4096], base[4096], root[4096];
    xsnprintf(layer, sizeof(layer), "%s/fixtures/regclient-regclient/testdata/layer-wh.tar",
              shared);
    if (access(layer, R_OK) != 0) {
        fprintf(stderr, "  (%s absent: skipped)\n", layer);
        return;
    }
    xsnprintf(base, sizeof(base), "%s/base.tar", tmp);
    xsnprintf(root, sizeof(root), "%s/regclient", tmp);
    CHECK_INT(make_base(base), 0);
    const char *layers[] = {base, layer};
    CHECK_INT(apply_files(root, layers, 2, "application/vnd.oci.image.layer.v1.tar"), 0);
    /* SOURCE.md: layer1.txt, .wh.layer2.txt, layer3.txt, exdir/,
     * exdir/.wh..wh..opq — layer2.txt goes, exdir/ is emptied, no .wh. file
     * appears. */
    CHECK_INT(check_tree(root, "{\"entries\": {"
                               "\"layer1.txt\": {\"type\": \"file\"},"
                               "\"layer3.txt\": {\"type\": \"file\"},"
                               "\"keep.txt\": {\"type\": \"file\", \"content\": \"b\\n\"},"
                               "\"exdir\": {\"type\": \"dir\"}}, \"exact\": true}"),
              0);
}

/* Applies the layers of a docker-save archive, in manifest order. */
static void docker_save(const char *name, const char *spec_json)
{
    char tarpath[4096], mpath[4096], root[4096];
    xsnprintf(tarpath, sizeof(tarpath),
              "%s/fixtures/google-go-containerregistry/pkg/v1/mutate/testdata/%s", shared, name);
    if (access(tarpath, R_OK) != 0) {
        fprintf(stderr, "  (%s absent: skipped)\n", tarpath);
        return;
    }
    xsnprintf(mpath, sizeof(mpath), "%s/%s.manifest.json", tmp, name);
    CHECK_INT(extract_member(tarpath, "manifest.json", mpath), 0);
    json_object *m = json_object_from_file(mpath);
    CHECK(m && json_object_is_type(m, json_type_array));
    if (!m)
        return;
    json_object *layers = NULL;
    json_object_object_get_ex(json_object_array_get_idx(m, 0), "Layers", &layers);
    size_t n = json_object_array_length(layers);
    CHECK(n >= 3 && n <= 16);
    const char *files[16];
    char paths[16][4096];
    for (size_t i = 0; i < n && i < 16; i++) {
        xsnprintf(paths[i], sizeof(paths[i]), "%s/%s.layer%zu", tmp, name, i);
        CHECK_INT(extract_member(tarpath,
                                 json_object_get_string(json_object_array_get_idx(layers, i)),
                                 paths[i]),
                  0);
        files[i] = paths[i];
    }
    xsnprintf(root, sizeof(root), "%s/%s.root", tmp, name);
    /* docker save has no media types: detect the compression. */
    CHECK_INT(apply_files(root, files, n, NULL), 0);
    CHECK_INT(check_tree(root, spec_json), 0);
    json_object_put(m);
}

static void test_ggcr_whiteout_image(void)
{
    /* SOURCE.md: ./bar.txt ./foo.txt ; ./.wh.foo.txt ; empty layer. */
    docker_save("whiteout_image.tar", "{\"entries\": {\"bar.txt\": {\"type\": \"file\"}}, "
                                      "\"exact\": true}");
}

static void test_ggcr_whiteout_dir(void)
{
    /* SOURCE.md: a/foo ; b/bar ; .wh.a ; a/baz => rootfs {a/baz, b/bar}. */
    docker_save("whiteout_dir.tar", "{\"entries\": {\"a\": {\"type\": \"dir\"}, "
                                    "\"a/baz\": {\"type\": \"file\"}, \"b\": {\"type\": \"dir\"}, "
                                    "\"b/bar\": {\"type\": \"file\"}}, \"exact\": true}");
}

int main(void)
{
    shared = getenv("OCIIMG_SHARED");
    char probe[4096];
    xsnprintf(probe, sizeof(probe), "%s/fixtures", shared ? shared : "");
    if (!shared || access(probe, R_OK) != 0) {
        fprintf(stderr, "skip: ../shared/fixtures is not available (developer material)\n");
        return 77;
    }
    if (!have_python()) {
        fprintf(stderr, "skip: %s is needed for treecmp.py\n", PYTHON);
        return 77;
    }
    tmp = make_tmpdir("apply-fixtures");
    CHECK(tmp != NULL);
    T_RUN(test_regclient_layer_wh);
    T_RUN(test_ggcr_whiteout_image);
    T_RUN(test_ggcr_whiteout_dir);
    rm_rf(tmp);
    free(tmp);
    return t_done();
}
