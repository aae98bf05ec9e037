/* mkman: the man pages, made at build time from the --help texts of the
 * built binaries, so the usage text stays the one source.
 *
 *   mkman OUTDIR OCIIMG OCIRUN VERSION
 *
 * writes OUTDIR/ociimg.1 (from `ociimg --help`), OUTDIR/ociimg-CMD.1 for each
 * command the "Commands:" section of that help lists (from `ociimg CMD
 * --help`), and OUTDIR/ocirun.1 (from `ocirun --help`).
 *
 * The help texts follow one shape, which this relies on: "Usage: ..." first
 * (indented lines after it continue the synopsis), then paragraphs at column
 * 0, then sections, each a column-0 line ending in ':' ("Options:",
 * "Examples:", ...).  In a section whose name ends in "options", "Commands" or
 * "Exit status", a line indented by two spaces starts an entry: its tag, two
 * or more spaces, its text; deeper lines continue the text.  Other sections
 * are shown as they are. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define HELP_MAX (1 << 20)
#define MAX_CMDS 128

static const char *version;
static char date[32];

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "mkman: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* The stdout of argv, which must exit 0. */
static char *capture(char *const argv[])
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        dup2(p[1], STDOUT_FILENO);
        execv(argv[0], argv);
        _exit(127);
    }
    close(p[1]);
    char *buf = malloc(HELP_MAX + 1);
    if (!buf)
        die("out of memory");
    size_t n = 0;
    for (;;) {
        ssize_t k = read(p[0], buf + n, HELP_MAX - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        n += (size_t)k;
        if (n == HELP_MAX)
            die("%s: help text too long", argv[0]);
    }
    close(p[0]);
    buf[n] = '\0';
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            die("waitpid: %s", strerror(errno));
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        die("%s %s failed", argv[0], argv[1] ? argv[1] : "");
    return buf;
}

/* Text for a fill-mode line: backslashes escaped, option dashes made
 * minus signs (so they copy and search as '-'), `code` in bold. */
static void put_text(FILE *f, const char *s, bool code_spans)
{
    bool bold = false;
    if (*s == '.' || *s == '\'')
        fputs("\\&", f);
    for (const char *p = s; *p; p++) {
        if (*p == '\\')
            fputs("\\e", f);
        else if (*p == '-' && (p == s || !isalnum((unsigned char)p[-1])))
            fputs("\\-", f);
        else if (*p == '`' && code_spans && (bold || strchr(p + 1, '`'))) {
            fputs(bold ? "\\fR" : "\\fB", f);
            bold = !bold;
        } else
            fputc(*p, f);
    }
    if (bold)
        fputs("\\fR", f);
}

static void put_line(FILE *f, const char *s, bool code_spans)
{
    put_text(f, s, code_spans);
    fputc('\n', f);
}

static size_t indent_of(const char *s)
{
    size_t n = 0;
    while (s[n] == ' ')
        n++;
    return n;
}

static bool is_blank(const char *s)
{
    return s[indent_of(s)] == '\0';
}

static bool is_header(const char *s)
{
    size_t n = strlen(s);
    return n > 1 && n <= 60 && s[0] != ' ' && s[n - 1] == ':' && isalpha((unsigned char)s[0]);
}

static bool ends_with_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcasecmp(s + n - m, suffix) == 0;
}

/* Splits help text into lines in place. */
static size_t split_lines(char *text, char **lines, size_t max)
{
    size_t n = 0;
    for (char *p = text; *p && n < max;) {
        lines[n++] = p;
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        p = nl + 1;
    }
    return n;
}

/* "SYNOPSIS" line: the program (and command) in bold, the rest as is. */
static void put_synopsis(FILE *f, const char *line, const char *prog, const char *cmd)
{
    const char *rest = line;
    size_t pl = strlen(prog);
    fputs(".br\n", f);
    if (strncmp(rest, prog, pl) == 0 && (rest[pl] == ' ' || !rest[pl])) {
        fprintf(f, "\\fB%s", prog);
        rest += pl;
        size_t cl = cmd ? strlen(cmd) : 0;
        if (cmd && rest[0] == ' ' && strncmp(rest + 1, cmd, cl) == 0 &&
            (rest[1 + cl] == ' ' || !rest[1 + cl])) {
            fprintf(f, " %s", cmd);
            rest += 1 + cl;
        }
        fputs("\\fR", f);
    }
    put_line(f, rest, false);
}

struct entry {
    char tag[256];
    char text[4096];
};

static void flush_entry(FILE *f, struct entry *e)
{
    if (!e->tag[0])
        return;
    fputs(".TP\n\\fB", f);
    put_text(f, e->tag, false);
    fputs("\\fR\n", f);
    put_line(f, e->text[0] ? e->text : "", true);
    e->tag[0] = e->text[0] = '\0';
}

static void append(char *dst, size_t cap, const char *s)
{
    size_t n = strlen(dst);
    snprintf(dst + n, cap - n, "%s%s", n ? " " : "", s);
}

static void section_title(FILE *f, const char *header)
{
    char name[128];
    size_t n = strlen(header) - 1; /* without ':' */
    if (n >= sizeof(name))
        n = sizeof(name) - 1;
    /* "Registry options (with docker://REF):" -> "REGISTRY OPTIONS (with docker://REF)" */
    bool paren = false;
    for (size_t i = 0; i < n; i++) {
        paren = paren || (header[i] == '(' && i > 0 && header[i - 1] == ' ');
        name[i] = paren ? header[i] : (char)toupper((unsigned char)header[i]);
    }
    name[n] = '\0';
    if (strcmp(name, "EXAMPLE") == 0)
        strcpy(name, "EXAMPLES");
    fputs(".SH \"", f);
    put_text(f, name, false);
    fputs("\"\n", f);
}

/* Writes one page.  `cmd` is the subcommand (NULL for a program's page). */
static void write_page(const char *dir, const char *page, const char *summary, char *help,
                       const char *prog, const char *cmd, const char *see_also)
{
    static char *lines[65536];
    size_t n = split_lines(help, lines, sizeof(lines) / sizeof(lines[0]));
    if (n == 0 || strncasecmp(lines[0], "usage: ", 7) != 0)
        die("%s: the help does not start with \"Usage: \"", page);

    char path[4096];
    snprintf(path, sizeof(path), "%s/%s.1", dir, page);
    FILE *f = fopen(path, "we");
    if (!f)
        die("%s: %s", path, strerror(errno));
    char upper[128];
    snprintf(upper, sizeof(upper), "%s", page);
    for (char *p = upper; *p; p++)
        *p = (char)toupper((unsigned char)*p);
    fprintf(f,
            ".\\\" Generated by doc/mkman from `%s%s%s --help`; do not edit.\n"
            ".TH \"%s\" \"1\" \"%s\" \"ociimg %s\" \"ociimg manual\"\n"
            ".nh\n.ad l\n"
            ".SH NAME\n",
            prog, cmd ? " " : "", cmd ? cmd : "", upper, date, version);
    fprintf(f, "%s \\- ", page);
    put_line(f, summary, false);

    /* Synopsis: the Usage line and the indented lines right after it. */
    fputs(".SH SYNOPSIS\n.nf\n", f);
    size_t i = 0;
    char syn[4096] = "";
    snprintf(syn, sizeof(syn), "%s", lines[0] + 7);
    for (i = 1; i < n && !is_blank(lines[i]) && lines[i][0] == ' '; i++) {
        const char *t = lines[i] + indent_of(lines[i]);
        if (strncmp(t, prog, strlen(prog)) == 0) {
            put_synopsis(f, syn, prog, cmd);
            snprintf(syn, sizeof(syn), "%s", t);
        } else {
            append(syn, sizeof(syn), t); /* a wrapped line continues */
        }
    }
    put_synopsis(f, syn, prog, cmd);
    fputs(".fi\n", f);

    enum { PROSE, ENTRIES, VERBATIM } kind = PROSE;
    bool para = false, nf = false, description = false;
    struct entry e = {0};
    for (; i < n; i++) {
        const char *l = lines[i];
        if (is_header(l)) {
            flush_entry(f, &e);
            if (nf)
                fputs(".fi\n.RE\n", f);
            nf = para = false;
            section_title(f, l);
            if (strcasestr(l, "options") || strcasecmp(l, "commands:") == 0 ||
                strcasecmp(l, "exit status:") == 0)
                kind = ENTRIES;
            else
                kind = VERBATIM;
            continue;
        }
        if (is_blank(l)) {
            flush_entry(f, &e);
            if (nf && i + 1 < n && lines[i + 1][0] == ' ' && !is_blank(lines[i + 1]))
                fputs(".sp\n", f);
            para = false;
            continue;
        }
        size_t ind = indent_of(l);
        if (ind == 0) {
            /* Prose (a paragraph, or a note inside a section). */
            flush_entry(f, &e);
            if (nf)
                fputs(".fi\n.RE\n", f);
            nf = false;
            if (!description && kind == PROSE) {
                fputs(".SH DESCRIPTION\n", f);
                description = true;
            }
            if (!para)
                fputs(".PP\n", f);
            para = true;
            put_line(f, l + ind, true);
            continue;
        }
        if (kind == ENTRIES) {
            const char *t = l + ind;
            if (ind > 2) {
                append(e.text, sizeof(e.text), t);
                continue;
            }
            flush_entry(f, &e);
            const char *gap = strstr(t, "  ");
            size_t tl = gap ? (size_t)(gap - t) : strlen(t);
            if (tl >= sizeof(e.tag))
                tl = sizeof(e.tag) - 1;
            memcpy(e.tag, t, tl);
            e.tag[tl] = '\0';
            if (gap)
                snprintf(e.text, sizeof(e.text), "%s", gap + indent_of(gap));
            continue;
        }
        /* Verbatim: examples, JSON, lists the text lays out itself. */
        if (!nf)
            fputs(".PP\n.RS 4\n.nf\n", f);
        nf = true;
        put_line(f, l + (ind >= 2 ? 2 : ind), false);
    }
    flush_entry(f, &e);
    if (nf)
        fputs(".fi\n.RE\n", f);
    if (see_also && *see_also)
        fprintf(f, ".SH \"SEE ALSO\"\n%s\n", see_also);
    if (fclose(f) != 0)
        die("%s: %s", path, strerror(errno));
}

int main(int argc, char **argv)
{
    if (argc != 5)
        die("usage: mkman OUTDIR OCIIMG OCIRUN VERSION");
    const char *dir = argv[1];
    char *ociimg = argv[2], *ocirun = argv[3];
    version = argv[4];

    /* The date of the source, not of the build, when the packager says so. */
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    time_t now = sde && *sde ? (time_t)strtoll(sde, NULL, 10) : time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d", &tm);

    /* Pages of commands that no longer exist must not linger. */
    DIR *d = opendir(dir);
    if (!d)
        die("%s: %s", dir, strerror(errno));
    struct dirent *de;
    while ((de = readdir(d)))
        if (ends_with_ci(de->d_name, ".1"))
            unlinkat(dirfd(d), de->d_name, 0);
    closedir(d);

    char *main_help = capture((char *[]){ociimg, "--help", NULL});
    char *copy = strdup(main_help);
    if (!copy)
        die("out of memory");
    static char *lines[65536];
    size_t n = split_lines(copy, lines, sizeof(lines) / sizeof(lines[0]));
    char *names[MAX_CMDS], *summaries[MAX_CMDS];
    size_t nc = 0;
    bool in_cmds = false;
    for (size_t i = 0; i < n; i++) {
        if (is_header(lines[i])) {
            in_cmds = strcmp(lines[i], "Commands:") == 0;
            continue;
        }
        if (!in_cmds || indent_of(lines[i]) != 2)
            continue;
        char *name = lines[i] + 2, *gap = strstr(name, "  ");
        if (!gap || nc == MAX_CMDS)
            die("ociimg --help: cannot read the command line `%s`", lines[i]);
        *gap = '\0';
        names[nc] = name;
        summaries[nc++] = gap + 1 + indent_of(gap + 1);
    }
    if (nc == 0)
        die("ociimg --help lists no commands");

    char see[8192] = "";
    for (size_t i = 0; i < nc; i++) {
        size_t len = strlen(see);
        snprintf(see + len, sizeof(see) - len, "\\fBociimg\\-%s\\fR(1),\n", names[i]);
    }
    size_t len = strlen(see);
    snprintf(see + len, sizeof(see) - len, "\\fBocirun\\fR(1)");
    write_page(dir, "ociimg", "pull, keep, check, unpack and run OCI images", main_help, "ociimg",
               NULL, see);

    for (size_t i = 0; i < nc; i++) {
        char page[256];
        snprintf(page, sizeof(page), "ociimg-%s", names[i]);
        char *help = capture((char *[]){ociimg, names[i], "--help", NULL});
        write_page(dir, page, summaries[i], help, "ociimg", names[i], "\\fBociimg\\fR(1)");
        free(help);
    }
    char *rhelp = capture((char *[]){ocirun, "--help", NULL});
    write_page(dir, "ocirun", "run containers from OCI runtime bundles", rhelp, "ocirun", NULL,
               "\\fBociimg\\fR(1), \\fBociimg\\-unpack\\fR(1), \\fBrunc\\fR(8)");
    free(rhelp);
    free(main_help);
    free(copy);
    return 0;
}
