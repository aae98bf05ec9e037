/* Helpers the commands share: the global log level, and opening the layout
 * behind a name and resolving the name to a descriptor. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <ociimg/cleanup.h>

#include "cmd.h"
#include "cmd_layout.h"

enum cmd_log_level cmd_log_level = CMD_LOG_INFO;

bool cmd_log_level_parse(enum cmd_log_level *out, const char *s)
{
    static const struct {
        const char *name;
        enum cmd_log_level level;
    } names[] = {
        {"error", CMD_LOG_ERROR}, {"warn", CMD_LOG_WARN},   {"warning", CMD_LOG_WARN},
        {"info", CMD_LOG_INFO},   {"debug", CMD_LOG_DEBUG},
    };
    for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++) {
        if (strcmp(names[i].name, s) == 0) {
            *out = names[i].level;
            return true;
        }
    }
    return false;
}

bool cmd_log_on(enum cmd_log_level level)
{
    return level <= cmd_log_level;
}

bool cmd_quiet(void)
{
    return cmd_log_level <= CMD_LOG_ERROR;
}

static void vlog(const char *cmd, const char *kind, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
static void vlog(const char *cmd, const char *kind, const char *fmt, va_list ap)
{
    /* One fprintf per part, but stderr is unbuffered: build the line first so
     * concurrent writers (pull's progress) never split it. */
    char line[4096];
    int n = 0;
    if (cmd)
        n = snprintf(line, sizeof(line), "ociimg: %s: %s", cmd, kind);
    if (n < 0 || (size_t)n >= sizeof(line))
        n = 0;
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    fprintf(stderr, "%s\n", line);
}

void cmd_warn(const char *cmd, const char *fmt, ...)
{
    if (!cmd_log_on(CMD_LOG_WARN))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(cmd, "warning: ", fmt, ap);
    va_end(ap);
}

void cmd_info(const char *fmt, ...)
{
    if (!cmd_log_on(CMD_LOG_INFO))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(NULL, "", fmt, ap);
    va_end(ap);
}

void cmd_debug(const char *cmd, const char *fmt, ...)
{
    if (!cmd_log_on(CMD_LOG_DEBUG))
        return;
    va_list ap;
    va_start(ap, fmt);
    vlog(cmd, "debug: ", fmt, ap);
    va_end(ap);
}

void cmd_image_ref_clear(struct cmd_image_ref *r)
{
    oimg_descriptor_clear(&r->desc);
    oimg_layout_free(r->layout);
    oimg_layout_ref_clear(&r->ref);
    *r = (struct cmd_image_ref){0};
}

int cmd_image_ref_open(struct cmd_image_ref *out, const char *spec, unsigned flags, bool resolve,
                       struct oci_error **err)
{
    struct cmd_image_ref r = {0};
    int ret = oimg_layout_ref_parse(&r.ref, spec, err);
    if (ret < 0)
        return ret;
    ret = oimg_layout_open(&r.layout, r.ref.dir, flags, err);
    if (ret >= 0 && resolve)
        ret = oimg_layout_resolve(&r.desc, r.layout, r.ref.name,
                                  r.ref.has_digest ? &r.ref.digest : NULL, err);
    if (ret < 0) {
        cmd_image_ref_clear(&r);
        return ret;
    }
    *out = r;
    return 0;
}
