/* directread.c: a blob read back with O_DIRECT, several blocks ahead, while
 * the file may still grow (a download's partial file): every byte comes back
 * right through uneven read sizes, the file's end for now reads as 0 and
 * later reads see what was appended since, even where a block read ahead
 * was short or empty, in the middle of the ring as at its start; a new fd
 * after dread_stop; and buffered reads where the filesystem refuses
 * O_DIRECT. */
#include "bundle_t.h"
#include "libimage/bundle/bundle_private.h"

#define MIB (1024u * 1024)

static unsigned char *pattern(size_t n)
{
    unsigned char *p = malloc(n);
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        p[i] = (unsigned char)x;
    }
    return p;
}

static void append(int fd, const unsigned char *p, size_t from, size_t to)
{
    CHECK(pwrite(fd, p + from, to - from, (off_t)from) == (ssize_t)(to - from));
}

/* Reads [from, to) in chunks of step; true if every byte matched. */
static bool read_all(struct dread *dr, int fd, const unsigned char *want, size_t from, size_t to,
                     size_t step)
{
    unsigned char *buf = malloc(step);
    bool ok = true;
    for (size_t off = from; off < to;) {
        size_t n = to - off < step ? to - off : step;
        ssize_t got = dread_pread(dr, fd, buf, n, off);
        if (got <= 0 || memcmp(buf, want + off, (size_t)got) != 0) {
            ok = false;
            break;
        }
        off += (size_t)got;
    }
    free(buf);
    return ok;
}

int main(void)
{
    char *top = bt_tmpdir("dread");
    char *path = bt_fmt("%s/blob", top);
    const size_t size = 5 * MIB + 4321;
    unsigned char *data = pattern(size);

    int wfd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rfd = open(path, O_RDONLY | O_CLOEXEC);
    CHECK(wfd >= 0 && rfd >= 0);
    struct dread dr;
    dread_init(&dr);
    bool direct = dread_start(&dr, rfd, size);
    if (!direct)
        printf("# this filesystem refuses O_DIRECT: the reads stay buffered\n");

    /* A partial file: 1.5 MiB so far.  Its end reads as 0. */
    append(wfd, data, 0, MIB + MIB / 2);
    unsigned char b[70000];
    CHECK(read_all(&dr, rfd, data, 0, MIB + MIB / 2, 70000));
    CHECK_INT(dread_pread(&dr, rfd, b, sizeof(b), MIB + MIB / 2), 0);

    /* More lands, some of it synced: the same offset now has bytes, and a
     * block that was short when read ahead is read again. */
    append(wfd, data, MIB + MIB / 2, 3 * MIB + 100);
    CHECK(fdatasync(wfd) == 0);
    append(wfd, data, 3 * MIB + 100, 4 * MIB);
    CHECK(read_all(&dr, rfd, data, MIB + MIB / 2, 4 * MIB, 65536));
    CHECK_INT(dread_pread(&dr, rfd, b, sizeof(b), 4 * MIB), 0);

    /* The rest, unaligned at the end; odd read sizes across blocks. */
    append(wfd, data, 4 * MIB, size);
    CHECK(read_all(&dr, rfd, data, 4 * MIB, size, 12345));
    CHECK_INT(dread_pread(&dr, rfd, b, sizeof(b), size), 0);

    /* A second file whose front is inside the third block: the first
     * block's read sends reads of the next three ahead; the third comes
     * back short and the fourth empty.  The short one is used for what it
     * holds and the empty one dropped; once more is appended, the same
     * offsets read the new bytes. */
    char *path2 = bt_fmt("%s/blob2", top);
    int wfd2 = open(path2, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int rfd3 = open(path2, O_RDONLY | O_CLOEXEC);
    CHECK(wfd2 >= 0 && rfd3 >= 0);
    dread_stop(&dr);
    CHECK_INT(dread_start(&dr, rfd3, size), direct);
    append(wfd2, data, 0, MIB + 1000);
    CHECK(read_all(&dr, rfd3, data, 0, 1000, 1000));
    if (direct) /* the rest of the ring is being read */
        CHECK_INT(dr.ahead, DREAD_BLOCKS - 1);
    CHECK(read_all(&dr, rfd3, data, 1000, MIB + 1000, 100000));
    if (direct) /* the short block is held, nothing after it */
        CHECK_INT(dr.ahead, 0);
    CHECK_INT(dread_pread(&dr, rfd3, b, sizeof(b), MIB + 1000), 0);
    append(wfd2, data, MIB + 1000, 2 * MIB + 4096);
    CHECK(read_all(&dr, rfd3, data, MIB + 1000, 2 * MIB + 4096, 7000));
    CHECK_INT(dread_pread(&dr, rfd3, b, sizeof(b), 2 * MIB + 4096), 0);
    append(wfd2, data, 2 * MIB + 4096, size);
    CHECK(read_all(&dr, rfd3, data, 2 * MIB + 4096, size, 262144));
    CHECK(read_all(&dr, rfd3, data, 0, size, 524288));
    dread_stop(&dr);
    close(rfd3);
    close(wfd2);
    free(path2);
    CHECK_INT(dread_start(&dr, rfd, size), direct);

    /* Back to the start (the block held is not there): read again; and
     * a jump back while a block is being read ahead. */
    CHECK(read_all(&dr, rfd, data, 0, 3 * MIB, 1 << 20));
    CHECK(read_all(&dr, rfd, data, MIB / 2, MIB / 2 + 1000, 1000));
    CHECK(read_all(&dr, rfd, data, 2 * MIB + 5, 2 * MIB + 9000, 4096));

    /* Another fd for the same bytes (the committed blob), after a stop. */
    dread_stop(&dr);
    int rfd2 = open(path, O_RDONLY | O_CLOEXEC);
    CHECK_INT(dread_start(&dr, rfd2, size), direct);
    CHECK(read_all(&dr, rfd2, data, 2 * MIB + 7, size, 300000));
    /* The old fd, no longer direct here, still reads (buffered, its own). */
    dread_stop(&dr);
    int fl = fcntl(rfd, F_GETFL);
    CHECK(fl >= 0 && fcntl(rfd, F_SETFL, fl & ~O_DIRECT) == 0);
    CHECK(read_all(&dr, rfd, data, 100, 200000, 4096));

    dread_free(&dr);
    dread_free(&dr); /* twice is fine */
    close(rfd);
    close(rfd2);
    close(wfd);
    free(data);
    bt_rm_rf(top);
    free(path);
    free(top);
    return t_done();
}
