#!/bin/bash
# What users see besides the commands' work:
#  - every command's --help has "Usage: ociimg CMD", an "Examples:" section
#    whose lines run that command, and no line over 90 columns;
#  - every command has a man page ociimg-CMD(1), and ociimg(1), ocirun(1): they
#    render without warnings (groff -ww) and have NAME, SYNOPSIS, EXAMPLES;
#    ociimg(1) has EXIT STATUS, with the same codes as README's table;
#  - `cmake --install` puts the man pages and the bash completion in place
#    (`man -w ociimg-pull` finds the page under the prefix);
#  - the bash completion offers every command and every long option of every
#    command's --help, option values, and DIR:NAME from a layout;
#  - `ociimg version` / `--version` / `version --json`, `ocirun --version`, and
#    the commit is "unknown" outside a git checkout;
#  - global --log-level / --quiet: accepted before the command, bad values are
#    usage errors, warnings and summaries go away under --quiet;
#  - ls --json and inspect --json print JSON.
source "$(dirname "$0")/../lib/common.sh"
need_ociimg
BUILD=${OCIIMG_BUILDDIR:-$(cd "$(dirname "$OCIIMG")/.." && pwd)}
OCIRUN=$BUILD/cmd/ocirun/ocirun
MAN=$BUILD/doc/man
COMPLETION=$OCIIMG_SRCDIR/contrib/bash-completion/ociimg
[ -x "$OCIRUN" ] || die "ocirun not found at $OCIRUN"
[ -d "$MAN" ] || die "no man pages in $MAN (the build makes them)"

mapfile -t CMDS < <("$OCIIMG" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit }
    on && /^  [a-z]/ { print $1 }')
[ "${#CMDS[@]}" -ge 10 ] || die "ociimg --help lists ${#CMDS[@]} commands: ${CMDS[*]}"

# check_page FILE : a man page that renders cleanly and has the usual sections.
check_page() {
    local f=$1 s
    [ -s "$f" ] || {
        fail "missing man page $f"
        return
    }
    for s in NAME SYNOPSIS EXAMPLES; do
        grep -q "^\.SH \"\{0,1\}$s" "$f" || fail "$(basename "$f"): no $s section"
    done
    if command -v groff >/dev/null; then
        local warn
        warn=$(groff -man -Tutf8 -ww -z "$f" 2>&1) || fail "$(basename "$f"): groff failed"
        [ -z "$warn" ] || fail "$(basename "$f"): groff warnings: $warn"
    fi
    if command -v man >/dev/null; then
        MANWIDTH=80 man -l "$f" >"$T/page" 2>"$T/page.err" || fail "$(basename "$f"): man -l failed"
        grep -q '^SYNOPSIS' "$T/page" || fail "$(basename "$f"): man -l shows no SYNOPSIS"
    fi
}

note "--help of ${#CMDS[@]} commands: Usage and Examples; man pages"
for c in "${CMDS[@]}"; do
    if ! expect_ok "$OCIIMG" "$c" --help; then
        continue
    fi
    grep -q "^Usage: ociimg $c\b" "$T/out" || fail "$c --help: no 'Usage: ociimg $c' line"
    awk '/^Examples:$/ { on = 1; next } on && /^$/ { exit } on' "$T/out" >"$T/ex"
    [ -s "$T/ex" ] || fail "$c --help: no Examples: section"
    grep -q "ociimg $c\b" "$T/ex" || fail "$c --help: no example runs 'ociimg $c'"
    # The texts are laid out for a 90-column terminal.
    grep -n '.\{91,\}' "$T/out" | sed "s/^/$c --help: line over 90 columns: /" >&2 &&
        fail "$c --help has lines over 90 columns"
    # `ociimg help CMD` is the same text.
    "$OCIIMG" help "$c" | cmp -s - "$T/out" || fail "ociimg help $c differs from $c --help"
    check_page "$MAN/ociimg-$c.1"
done
check_page "$MAN/ociimg.1"
check_page "$MAN/ocirun.1"
for f in "$MAN"/*.1; do
    case $(basename "$f" .1) in
    ociimg | ocirun) ;;
    # Not `printf | grep -q`: grep -q exits at its first match, a later
    # write gets SIGPIPE, and pipefail turns that into a failure.
    ociimg-*)
        n=$(basename "$f" .1)
        grep -qx -- "${n#ociimg-}" <<<"$(printf '%s\n' "${CMDS[@]}")" || fail "stale man page $f"
        ;;
    *) fail "unexpected man page $f" ;;
    esac
done

note "exit status: ociimg --help, ociimg(1) and README agree"
grep -q '^\.SH "EXIT STATUS"' "$MAN/ociimg.1" || fail "ociimg(1) has no EXIT STATUS section"
help_codes=$("$OCIIMG" --help | awk '/^Exit status:/ { on = 1; next } on && /^$/ { exit }
    on && /^  [0-9]+  / { print $1 }' | tr '\n' ' ')
readme_codes=$(awk '/^### Errors and exit codes/ { on = 1; next } on && /^#/ { exit }
    on && /^\| [0-9]+ \|/ { print $2 }' "$OCIIMG_SRCDIR/README.md" | tr '\n' ' ')
[ -n "$help_codes" ] || fail "ociimg --help has no Exit status section"
[ "$help_codes" = "$readme_codes" ] ||
    fail "exit codes: --help lists '$help_codes', README lists '$readme_codes'"

note "cmake --install: man pages and bash completion"
if command -v cmake >/dev/null; then
    cmake --install "$BUILD" --prefix "$T/inst" >"$T/inst.log" 2>&1 || fail "cmake --install failed"
    for f in share/man/man1/ociimg.1 share/man/man1/ociimg-pull.1 share/man/man1/ocirun.1 \
        share/bash-completion/completions/ociimg; do
        [ -f "$T/inst/$f" ] || fail "cmake --install did not install $f"
    done
    for c in "${CMDS[@]}"; do
        [ -f "$T/inst/share/man/man1/ociimg-$c.1" ] || fail "ociimg-$c.1 not installed"
    done
    if command -v man >/dev/null; then
        p=$(MANPATH=$T/inst/share/man man -w ociimg-pull 2>/dev/null || true)
        [ "$p" = "$T/inst/share/man/man1/ociimg-pull.1" ] || fail "man -w ociimg-pull: '$p'"
    fi
fi

note "bash completion"
# complete LINE : the completions of LINE (cursor at its end), one per line.
complete_once() {
    bash -c 'source "$1"; COMP_LINE=$2; COMP_POINT=${#COMP_LINE}; COMPREPLY=()
        _ociimg; printf "%s\n" "${COMPREPLY[@]}"' _ "$COMPLETION" "$1"
}
# Under the parallel CI suite a completion that runs ociimg (option values
# from --help, names from `ls`) came back empty twice in ~20 runs, and never
# alone; until the cause is found, an empty answer is asked once more and
# said in the log, so a real regression (empty twice) still fails.
complete_line() {
    local out
    out=$(complete_once "$1")
    if [ -z "$(tr -d '[:space:]' <<<"$out")" ]; then
        echo "# note: empty completion of '$1', asking again" >&2
        out=$(complete_once "$1")
    fi
    printf '%s\n' "$out"
}
complete_line "$OCIIMG " >"$T/c"
for c in "${CMDS[@]}"; do
    grep -qx "$c" "$T/c" || fail "completion of 'ociimg ' lacks $c"
done
complete_line "$OCIIMG --" >"$T/c"
for o in --log-level --quiet --help --version; do
    grep -qx -- "$o" "$T/c" || fail "completion of 'ociimg --' lacks $o"
done
for c in "${CMDS[@]}"; do
    complete_line "$OCIIMG $c --" >"$T/c"
    "$OCIIMG" "$c" --help | { grep -E '^ {2,}-' || true; } | { grep -oE -- '--[a-z][a-z0-9-]*' || true; } | sort -u >"$T/want"
    while read -r o; do
        grep -qE -- "^$o(=|\$)" "$T/c" || fail "completion of 'ociimg $c --' lacks $o"
    done <"$T/want"
done
complete_line "$OCIIMG --log-level " >"$T/c"
grep -q "error warn info debug" <<<"$(tr '\n' ' ' <"$T/c")" || fail "completion of --log-level values"
complete_line "$OCIIMG validate --type " >"$T/c"
grep -qx layout "$T/c" || fail "completion of validate --type"
complete_line "$OCIIMG inspect --platform linux/arm" >"$T/plat"; grep -qx linux/arm64 "$T/plat" ||
    fail "completion of --platform: $(tr "\n" " " <"$T/plat")"

if [ -x "$PY" ]; then
    mkdir -p "$T/root/etc"
    echo hi >"$T/root/etc/hi"
    for n in v1 v2.0; do
        "$PY" "$TESTS_LIB/mkimage.py" --layout "$T/L" --tag "$n" --layer-dir "$T/root" >/dev/null
    done
    # Bash completes the word after the last ':' (COMP_WORDBREAKS).
    [ "$(complete_line "$OCIIMG unpack $T/L:v" | sort | tr '\n' ' ')" = "v1 v2.0 " ] ||
        fail "completion of DIR:NAME: $(complete_line "$OCIIMG unpack $T/L:v" | tr '\n' ' ')"
    # Into a file, not a pipe: grep -q exits at its first match, a later
    # write of the completion gets SIGPIPE, and pipefail turns that into a
    # failure (1 run in 8 here).
    complete_line "$OCIIMG inspect $T/L" >"$T/names"
    grep -qx "$T/L:v1" "$T/names" ||
        fail "completion of a layout dir does not offer its names: $(tr '\n' ' ' <"$T/names")"

    note "ls --json, inspect --json"
    expect_ok "$OCIIMG" ls --json "$T/L" &&
        { "$PY" -c 'import json,sys; a=json.load(sys.stdin); assert sorted(x["name"] for x in a) == ["v1", "v2.0"]' <"$T/out" ||
            fail "ls --json: $(cat "$T/out")"; }
    expect_ok "$OCIIMG" inspect --json "$T/L:v1" &&
        { "$PY" -c 'import json,sys; o=json.load(sys.stdin); assert o["name"] == "v1" and "manifest" in o' <"$T/out" ||
            fail "inspect --json: $(cat "$T/out")"; }
    expect_exit 2 "$OCIIMG" inspect --json --raw "$T/L:v1"

    note "--log-level and --quiet"
    expect_ok "$OCIIMG" --log-level debug ls "$T/L"
    expect_ok "$OCIIMG" --log-level=warn gc --dry-run "$T/L"
    grep -q "would be freed" "$T/out" || fail "gc summary missing at --log-level warn"
    expect_ok "$OCIIMG" --quiet gc --dry-run "$T/L"
    [ -s "$T/out" ] && fail "ociimg --quiet gc printed: $(cat "$T/out")"
    expect_ok "$OCIIMG" -q verify "$T/L"
    [ -s "$T/out" ] && fail "ociimg -q verify printed: $(cat "$T/out")"
else
    note "no $PY: skipping the DIR:NAME completion, --json and --quiet checks on a layout"
fi
run "$OCIIMG" --log-level loud ls .
[ "$RC" = 2 ] && grep -q "unknown --log-level" "$T/err" || fail "--log-level loud: exit $RC"
run "$OCIIMG" --log-level
[ "$RC" = 2 ] || fail "--log-level without a value: exit $RC"
run "$OCIIMG" --bogus ls .
[ "$RC" = 2 ] || fail "unknown global option: exit $RC"
# A warning printed before anything is sent: gone under --quiet, the error stays.
args=(login -u me -p secret --retry 0 --authfile "$T/auth.json" 127.0.0.1:9)
run "$OCIIMG" "${args[@]}"
grep -q "warning: a password on the command line" "$T/err" || fail "login -p: no warning"
run "$OCIIMG" --quiet "${args[@]}"
grep -q "warning:" "$T/err" && fail "--quiet login -p still warns"
[ "$RC" != 0 ] && grep -q "^ociimg: login: " "$T/err" || fail "--quiet hid the error (exit $RC)"

note "version"
for v in version --version; do
    expect_ok "$OCIIMG" $v || continue
    grep -q "^ociimg version [0-9]" "$T/out" || fail "$v: no version line"
    grep -qE "^commit: ([0-9a-f]{7,}|[A-Za-z0-9._+-]+)" "$T/out" || fail "$v: no commit line"
    for lib in libcurl openssl zlib zstd libarchive json-c libseccomp; do
        grep -qE "^$lib: [0-9]" "$T/out" || fail "$v: no $lib version"
    done
done
if expect_ok "$OCIIMG" version --json && [ -x "$PY" ]; then
    "$PY" -c 'import json,sys; o=json.load(sys.stdin); assert o["version"] and o["commit"]
assert set(o["libraries"]) == {"libcurl","openssl","zlib","zstd","libarchive","json-c","libseccomp"}' <"$T/out" ||
        fail "version --json: $(cat "$T/out")"
fi
if [ -d "$OCIIMG_SRCDIR/.git" ] && command -v git >/dev/null; then
    want=$(git -C "$OCIIMG_SRCDIR" rev-parse --short=7 HEAD 2>/dev/null || true)
    [ -z "$want" ] || "$OCIIMG" version | grep -q "^commit: .*${want:0:7}" ||
        note "commit line differs from HEAD ($want): the build predates the last commit"
fi
if expect_ok "$OCIRUN" --version; then
    grep -q "^ocirun version " "$T/out" && grep -q "^commit: " "$T/out" &&
        grep -q "^spec: 1\." "$T/out" || fail "ocirun --version: $(cat "$T/out")"
fi
if command -v cmake >/dev/null; then
    # A source tree without .git (a release tarball), even inside another
    # repository, records "unknown".
    mkdir -p "$T/tarball/src"
    git -C "$T/tarball" init -q 2>/dev/null || true
    cmake -DSRC="$T/tarball/src" -DOUT="$T/bi.h" -P "$OCIIMG_SRCDIR/cmd/build_info.cmake" ||
        fail "build_info.cmake failed outside git"
    grep -q 'OCIIMG_GIT_COMMIT "unknown"' "$T/bi.h" || fail "build_info outside git: $(cat "$T/bi.h")"
fi

finish
