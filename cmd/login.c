/* ociimg login / logout: credentials in a docker-compatible config.json. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <ociimg/cleanup.h>

#include "cmd.h"
#include "cmd_remote.h"

#define SECRET_MAX 4096

static void wipe_free(char *s)
{
    if (s) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

/* One line from fd (the trailing newline dropped), at most SECRET_MAX. */
static char *read_line_fd(int fd, bool whole)
{
    char *buf = calloc(1, SECRET_MAX + 1);
    if (!buf)
        return NULL;
    size_t n = 0;
    while (n < SECRET_MAX) {
        ssize_t k = read(fd, buf + n, 1);
        if (k <= 0 || (!whole && buf[n] == '\n'))
            break;
        n += (size_t)k;
    }
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
        buf[--n] = '\0';
    buf[n] = '\0';
    return buf;
}

static char *prompt(const char *what, bool secret)
{
    _cleanup_close_ int tty = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (tty < 0)
        return NULL;
    struct termios old, quiet;
    bool restore = false;
    if (secret && tcgetattr(tty, &old) == 0) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        restore = tcsetattr(tty, TCSAFLUSH, &quiet) == 0;
    }
    if (write(tty, what, strlen(what)) < 0) {
        /* nothing to do: reading still works */
    }
    char *s = read_line_fd(tty, false);
    if (restore) {
        tcsetattr(tty, TCSAFLUSH, &old);
        if (write(tty, "\n", 1) < 0) {
            /* ignore */
        }
    }
    return s;
}

static void on_event(void *ud, const struct oreg_event *ev)
{
    (void)ud;
    if (ev->kind == OREG_EV_NOTE)
        cmd_info("note: %s", ev->msg);
}

static int run_login(int argc, char **argv)
{
    enum { O_USER = 'u', O_PASS = 'p', O_STDIN = 1 };
    static const struct option opts[] = {
        {"username", required_argument, NULL, O_USER},
        {"password", required_argument, NULL, O_PASS},
        {"password-stdin", no_argument, NULL, O_STDIN},
        {"tls-verify", optional_argument, NULL, CMD_OPT_TLS_VERIFY},
        {"cert-dir", required_argument, NULL, CMD_OPT_CERT_DIR},
        {"authfile", required_argument, NULL, CMD_OPT_AUTHFILE},
        {"retry", required_argument, NULL, CMD_OPT_RETRY},
        {0},
    };
    struct cmd_remote rem = CMD_REMOTE_INIT;
    const char *user = NULL, *pass_arg = NULL;
    bool from_stdin = false;
    int c;
    while ((c = getopt_long(argc, argv, "u:p:", opts, NULL)) != -1) {
        int h = cmd_remote_option(&rem, &ociimg_cmd_login, c, optarg);
        if (h > 1)
            return h;
        if (h == 1)
            continue;
        switch (c) {
        case O_USER:
            user = optarg;
            break;
        case O_PASS:
            pass_arg = optarg;
            break;
        case O_STDIN:
            from_stdin = true;
            break;
        default:
            return cmd_bad_option(&ociimg_cmd_login, argv);
        }
    }
    if (argc - optind > 1)
        return cmd_usage_error(&ociimg_cmd_login, "expected at most one REGISTRY");
    if (pass_arg && from_stdin)
        return cmd_usage_error(&ociimg_cmd_login,
                               "--password and --password-stdin exclude each other");
    const char *registry = argc - optind == 1 ? argv[optind] : OREG_DOCKER_HUB;
    if (from_stdin && !user)
        return cmd_usage_error(&ociimg_cmd_login, "--password-stdin needs --username");
    if (pass_arg)
        cmd_warn("login", "a password on the command line is visible to other users; "
                          "prefer --password-stdin");

    struct oci_error *err = NULL;
    _cleanup_free_ char *user_buf = NULL, *path = NULL, *name = NULL;
    char *pass = NULL;
    int ret = oreg_registry_normalize(&name, registry, &err);
    if (ret >= 0 && !user) {
        user_buf = isatty(STDIN_FILENO) ? prompt("Username: ", false) : NULL;
        if (!user_buf || !*user_buf)
            ret = oci_error_set(&err, OCI_ERR_INVALID,
                                "login to %s: no user name (pass --username)", name);
        user = user_buf;
    }
    if (ret >= 0) {
        if (pass_arg)
            pass = strdup(pass_arg);
        else if (from_stdin)
            pass = read_line_fd(STDIN_FILENO, true);
        else if (isatty(STDIN_FILENO))
            pass = prompt("Password: ", true);
        if (!pass || !*pass)
            ret = oci_error_set(&err, OCI_ERR_INVALID,
                                "login to %s: no password (use --password-stdin)", name);
    }
    struct oreg_client *client = NULL;
    if (ret >= 0)
        ret = cmd_remote_client(&client, &rem, 1, on_event, NULL, &err);
    if (ret >= 0)
        ret = oreg_login_check(client, name, user, pass, &err);
    struct oreg_creds_opts co = {.authfile = rem.authfile};
    if (ret >= 0)
        ret = oreg_authfile_path(&path, &co, &err);
    if (ret >= 0)
        ret = oreg_authfile_store(path, name, user, pass, &err);
    wipe_free(pass);
    oreg_client_free(client);
    cmd_remote_clear(&rem);
    if (ret < 0)
        return err ? cmd_fail("login", err) : EXIT_FAIL;
    cmd_info("Credentials for %s stored in %s", name, path);
    printf("Login Succeeded\n");
    return EXIT_OK;
}

static int run_logout(int argc, char **argv)
{
    static const struct option opts[] = {
        {"authfile", required_argument, NULL, CMD_OPT_AUTHFILE},
        {0},
    };
    struct cmd_remote rem = CMD_REMOTE_INIT;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int h = cmd_remote_option(&rem, &ociimg_cmd_logout, c, optarg);
        if (h > 1)
            return h;
        if (h == 0)
            return cmd_bad_option(&ociimg_cmd_logout, argv);
    }
    if (argc - optind > 1)
        return cmd_usage_error(&ociimg_cmd_logout, "expected at most one REGISTRY");
    const char *registry = argc - optind == 1 ? argv[optind] : OREG_DOCKER_HUB;
    struct oci_error *err = NULL;
    _cleanup_free_ char *path = NULL, *name = NULL;
    struct oreg_creds_opts co = {.authfile = rem.authfile};
    int ret = oreg_registry_normalize(&name, registry, &err);
    if (ret >= 0)
        ret = oreg_authfile_path(&path, &co, &err);
    if (ret >= 0)
        ret = oreg_authfile_erase(path, name, &err);
    if (ret < 0)
        return cmd_fail("logout", err);
    if (ret == 0)
        cmd_info("Not logged in to %s (nothing in %s)", name, path);
    else
        cmd_info("Removed the credentials for %s from %s", name, path);
    return EXIT_OK;
}

const struct ociimg_cmd ociimg_cmd_login = {
    .name = "login",
    .run = run_login,
    .summary = "check and store credentials for a registry",
    .usage = "Usage: ociimg login [-u USER] [-p PASS | --password-stdin] [OPTIONS] [REGISTRY]\n\n"
             "Checks the credentials against REGISTRY (default: docker.io) the way a pull uses\n"
             "them, then stores them in the docker-compatible config.json that pull reads\n"
             "(--authfile, $REGISTRY_AUTH_FILE, $DOCKER_CONFIG/config.json or\n"
             "~/.docker/config.json; mode 0600).  Without -p or --password-stdin the password\n"
             "is asked for on the terminal.\n\n"
             "Options:\n"
             "  -u, --username USER  the user name (asked for on a terminal if missing)\n"
             "  -p, --password PASS  the password (visible to other users; prefer\n"
             "                       --password-stdin)\n"
             "  --password-stdin     read the password from stdin\n"
             "  --authfile FILE      the file to store the credentials in\n"
             "  --tls-verify=false   allow plain HTTP and unverified TLS for this registry\n"
             "  --cert-dir DIR       CA and client certificates for this registry\n"
             "  --retry N            retries on network errors (default 3)\n\n"
             "Examples:\n"
             "  echo \"$TOKEN\" | ociimg login -u me --password-stdin ghcr.io\n"
             "  ociimg login -u admin registry.lan:5000\n",
};

const struct ociimg_cmd ociimg_cmd_logout = {
    .name = "logout",
    .run = run_logout,
    .summary = "remove stored credentials for a registry",
    .usage = "Usage: ociimg logout [--authfile FILE] [REGISTRY]\n\n"
             "Removes every entry for REGISTRY (default: docker.io) from the auths of the\n"
             "config.json that login writes, keeping everything else in the file.\n\n"
             "Options:\n"
             "  --authfile FILE  the file to remove the credentials from\n\n"
             "Examples:\n"
             "  ociimg logout\n"
             "  ociimg logout --authfile ./auth.json registry.lan:5000\n",
};
