/* Internals shared by the files of libimage/bundle. */
#ifndef OCIIMG_BUNDLE_PRIVATE_H
#define OCIIMG_BUNDLE_PRIVATE_H

#include <stdbool.h>
#include <stddef.h>

#include <ociimg/bundle.h>

/* Reads a regular file inside the tree at rootfd (symlinks resolved inside
 * the root only; anything but a regular file is refused without being opened
 * for reading).  Returns 1 with *out (NUL-terminated) and *len, 0 if the file
 * does not exist, negative on error. */
int bundle_read_in_root(char **out, size_t *len, int rootfd, const char *path, size_t max,
                        struct oci_error **err);

/* Creates a directory "<prefix><6 random chars>" in dirfd with mode; *name
 * gets the malloc'd name. */
int bundle_mkdtemp(char **name, int dirfd, const char *prefix, mode_t mode, struct oci_error **err);

/* The architectures list for seccomp (NULL-terminated; NULL if unknown). */
const char *const *bundle_seccomp_arches(const char *arch);

#endif
