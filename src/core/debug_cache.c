#include "debug_cache.h"

#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <libelf.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "log.h"

#include "banned.h"

/* Section headers looked at, at most: real files have tens to a few
 * thousand; this bounds the work on a corrupt one. */
#define SECTIONS_MAX 65536
/* Entries looked at when trimming the directory, at most. */
#define ENTRIES_MAX 4096
/* A temporary file older than this was left by a writer that died. */
#define STALE_TMP_SECONDS 3600
/* Longest build-id handled, in bytes (GNU ld's sha1 is 20). */
#define BUILD_ID_MAX 64
#define PATH_LEN 4096

struct debug_cache {
	char *dir;
	uint64_t max_bytes;
};

/* An ELF64 little-endian image read as bytes, every offset checked. */
struct raw_elf {
	const uint8_t *img;
	size_t size;
	Elf64_Ehdr eh;
	size_t shnum;
	const char *shstr;      /* the section name table, NULL without */
	size_t shstr_size;
};

struct debug_cache *debug_cache_new(const char *dir, uint64_t max_bytes)
{
	struct debug_cache *dc;

	if (!dir || dir[0] != '/') {
		errno = EINVAL;
		return NULL;
	}
	dc = calloc(1, sizeof(*dc));
	if (!dc)
		return NULL;
	dc->dir = strdup(dir);
	if (!dc->dir) {
		free(dc);
		return NULL;
	}
	dc->max_bytes = max_bytes;
	return dc;
}

void debug_cache_free(struct debug_cache *dc)
{
	if (!dc)
		return;
	free(dc->dir);
	free(dc);
}

static bool in_image(const struct raw_elf *r, uint64_t off, uint64_t len)
{
	return off <= r->size && len <= r->size - off;
}

/* Section header @i (copied: the table need not be aligned). */
static void raw_shdr(const struct raw_elf *r, size_t i, Elf64_Shdr *sh)
{
	memcpy(sh, r->img + r->eh.e_shoff + i * sizeof(*sh), sizeof(*sh));
}

/* Parse the headers of @img. 0, or -ENOTSUP (not a little-endian ELF64
 * with section headers) or -ENOEXEC (headers outside the image). */
static int raw_parse(const uint8_t *img, size_t size, struct raw_elf *r)
{
	Elf64_Shdr sh0, strs;
	size_t strndx;

	*r = (struct raw_elf){ .img = img, .size = size };
	if (!img || size < sizeof(r->eh) || memcmp(img, ELFMAG, SELFMAG) != 0 ||
	    img[EI_CLASS] != ELFCLASS64 || img[EI_DATA] != ELFDATA2LSB ||
	    __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		return -ENOTSUP;
	memcpy(&r->eh, img, sizeof(r->eh));
	if (r->eh.e_shoff == 0 || r->eh.e_shentsize != sizeof(Elf64_Shdr))
		return -ENOTSUP;
	if (!in_image(r, r->eh.e_shoff, sizeof(sh0)))
		return -ENOEXEC;
	memcpy(&sh0, img + r->eh.e_shoff, sizeof(sh0));
	/* More than 0xff00 sections: the count and the name table's index
	 * are in section 0 (gABI, "Extended section numbering"). */
	r->shnum = r->eh.e_shnum ? r->eh.e_shnum : sh0.sh_size;
	strndx = r->eh.e_shstrndx == SHN_XINDEX ? sh0.sh_link : r->eh.e_shstrndx;
	if (r->shnum == 0 || r->shnum > SECTIONS_MAX ||
	    !in_image(r, r->eh.e_shoff, r->shnum * sizeof(Elf64_Shdr)))
		return -ENOEXEC;
	if (strndx && strndx < r->shnum) {
		raw_shdr(r, strndx, &strs);
		if (strs.sh_type == SHT_STRTAB && !(strs.sh_flags & SHF_COMPRESSED) &&
		    in_image(r, strs.sh_offset, strs.sh_size)) {
			r->shstr = (const char *)img + strs.sh_offset;
			r->shstr_size = strs.sh_size;
		}
	}
	return 0;
}

/* Whether @sh is .debug_info, without which libdw reads nothing: a file
 * whose only compressed section is another (.debug_frame) is not copied. */
static bool is_debug_info(const struct raw_elf *r, const Elf64_Shdr *sh)
{
	static const char name[] = ".debug_info";

	return r->shstr && sh->sh_name < r->shstr_size &&
	       r->shstr_size - sh->sh_name >= sizeof(name) &&
	       memcmp(r->shstr + sh->sh_name, name, sizeof(name)) == 0;
}

/* The compression header of compressed section @sh. 0, -ENOEXEC when it
 * lies outside the image, -ENOTSUP when it is not zlib. */
static int raw_chdr(const struct raw_elf *r, const Elf64_Shdr *sh, Elf64_Chdr *ch)
{
	if (sh->sh_size < sizeof(*ch) || !in_image(r, sh->sh_offset, sh->sh_size))
		return -ENOEXEC;
	memcpy(ch, r->img + sh->sh_offset, sizeof(*ch));
	return ch->ch_type == ELFCOMPRESS_ZLIB ? 0 : -ENOTSUP;
}

/* The size section @sh has once inflated (its own when not compressed). */
static uint64_t inflated_size(const struct raw_elf *r, const Elf64_Shdr *sh)
{
	Elf64_Chdr ch;

	if (!(sh->sh_flags & SHF_COMPRESSED))
		return sh->sh_size;
	return raw_chdr(r, sh, &ch) == 0 ? ch.ch_size : UINT64_MAX;
}

/*
 * Whether @r has a compressed .debug_info the cache can inflate, and
 * the size of the entry it would make in *@entry_size. 0, -ENOENT (nothing
 * compressed), -ENOTSUP, -ENOEXEC.
 */
static int plan_entry(const struct raw_elf *r, uint64_t *entry_size)
{
	uint64_t end = r->size;
	bool any = false;

	for (size_t i = 1; i < r->shnum; i++) {
		Elf64_Shdr sh;
		Elf64_Chdr ch;
		int err;

		raw_shdr(r, i, &sh);
		if (!(sh.sh_flags & SHF_COMPRESSED) || sh.sh_type == SHT_NOBITS)
			continue;
		err = raw_chdr(r, &sh, &ch);
		if (err)
			return err;
		/* Sizes beyond 4 GiB are not debug sections anyone ships;
		 * refusing them keeps every sum below in range. */
		if (ch.ch_size > UINT32_MAX)
			return -E2BIG;
		end = (end + 15) & ~(uint64_t)15;
		end += ch.ch_size;
		any = any || is_debug_info(r, &sh);
	}
	if (!any)
		return -ENOENT;
	*entry_size = ((end + 7) & ~(uint64_t)7) + r->shnum * sizeof(Elf64_Shdr);
	return 0;
}

/*
 * Whether entry @c stands for original @o: same section count, and each
 * section of the same name, type, address and inflated size, inside the
 * entry and no longer compressed.
 */
static bool entry_matches(const struct raw_elf *o, const struct raw_elf *c)
{
	if (c->shnum != o->shnum)
		return false;
	for (size_t i = 1; i < o->shnum; i++) {
		Elf64_Shdr os, cs;

		raw_shdr(o, i, &os);
		raw_shdr(c, i, &cs);
		if (cs.sh_name != os.sh_name || cs.sh_type != os.sh_type ||
		    cs.sh_addr != os.sh_addr || (cs.sh_flags & SHF_COMPRESSED) ||
		    cs.sh_size != inflated_size(o, &os))
			return false;
		if (cs.sh_type != SHT_NOBITS && !in_image(c, cs.sh_offset, cs.sh_size))
			return false;
	}
	return true;
}

/* The directory, made when missing: 0700, ours, writable by no one else,
 * since what is read from it is trusted as debug information. 0 or -errno. */
static int cache_dir_ready(const struct debug_cache *dc, bool create)
{
	char path[PATH_LEN];
	struct stat st;
	size_t len = strlen(dc->dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	if (create) {
		memcpy(path, dc->dir, len + 1);
		for (size_t i = 1; i <= len; i++) {
			if (path[i] != '/' && path[i] != '\0')
				continue;
			path[i] = '\0';
			if (mkdir(path, 0700) < 0 && errno != EEXIST)
				return -errno;
			path[i] = i < len ? '/' : '\0';
		}
	}
	if (lstat(dc->dir, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != geteuid() || (st.st_mode & 022))
		return -EPERM;
	return 0;
}

struct entry_info {
	char name[128 + 2 * BUILD_ID_MAX];
	uint64_t size;
	time_t mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct entry_info *x = a, *y = b;

	return (x->mtime > y->mtime) - (x->mtime < y->mtime);
}

/*
 * Make room for @incoming bytes: remove the least recently used entries
 * until the directory holds at most max_bytes with them, and temporaries
 * that a writer killed midway left behind.
 */
static void cache_trim(const struct debug_cache *dc, uint64_t incoming)
{
	struct entry_info *e = calloc(ENTRIES_MAX, sizeof(*e));
	DIR *d = opendir(dc->dir);
	struct dirent *de;
	size_t n = 0;
	uint64_t total = incoming;
	time_t now = time(NULL);

	if (!e || !d)
		goto out;
	while ((de = readdir(d)) != NULL && n < ENTRIES_MAX) {
		size_t len = strlen(de->d_name);
		struct stat st;
		bool tmp = de->d_name[0] == '.' && len > 2;

		if (len >= sizeof(e[n].name) ||
		    (!tmp && (len < 7 || strcmp(de->d_name + len - 6, ".debug") != 0)))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (tmp) {
			if (now - st.st_mtime > STALE_TMP_SECONDS)
				unlinkat(dirfd(d), de->d_name, 0);
			continue;
		}
		memcpy(e[n].name, de->d_name, len + 1);
		e[n].size = (uint64_t)st.st_size;
		e[n].mtime = st.st_mtime;
		total += e[n].size;
		n++;
	}
	qsort(e, n, sizeof(*e), by_mtime);
	for (size_t i = 0; i < n && total > dc->max_bytes; i++) {
		if (unlinkat(dirfd(d), e[i].name, 0) == 0) {
			total -= e[i].size;
			log_debug("debug cache: removed %s/%s, least recently used", dc->dir,
				  e[i].name);
		}
	}
out:
	if (d)
		closedir(d);
	free(e);
}

static int write_all(int fd, const void *buf, size_t len, uint64_t off)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t w = pwrite(fd, p, len, (off_t)off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return w < 0 ? -errno : -EIO;
		p += w;
		len -= (size_t)w;
		off += (uint64_t)w;
	}
	return 0;
}

/* Inflate compressed section @sh of @r to @fd at @off. 0 or -errno. */
static int write_inflated(int fd, const struct raw_elf *r, const Elf64_Shdr *sh,
			  uint64_t off, uint64_t *size)
{
	Elf64_Chdr ch;
	uLongf got;
	uint8_t *buf;
	int err = raw_chdr(r, sh, &ch);

	if (err)
		return err;
	buf = malloc(ch.ch_size ? ch.ch_size : 1);
	if (!buf)
		return -ENOMEM;
	got = (uLongf)ch.ch_size;
	/* uncompress() stops at the end of the buffer: a stream that claims
	 * more than its header said fails instead of overflowing. */
	if (uncompress(buf, &got, r->img + sh->sh_offset + sizeof(ch),
		       (uLong)(sh->sh_size - sizeof(ch))) != Z_OK || got != ch.ch_size)
		err = -EBADMSG;
	else
		err = write_all(fd, buf, got, off);
	free(buf);
	*size = ch.ch_size;
	return err;
}

/*
 * Write the entry of @r to @fd: the original bytes, each compressed
 * section inflated after them, a new section header table, and the ELF
 * header pointing at it. 0 or -errno.
 */
static int write_entry(int fd, const struct raw_elf *r)
{
	Elf64_Shdr *shdrs = calloc(r->shnum, sizeof(*shdrs));
	Elf64_Ehdr eh = r->eh;
	uint64_t end = r->size;
	int err;

	if (!shdrs)
		return -ENOMEM;
	err = write_all(fd, r->img, r->size, 0);
	for (size_t i = 0; i < r->shnum && !err; i++) {
		Elf64_Shdr *sh = &shdrs[i];
		Elf64_Chdr ch;

		raw_shdr(r, i, sh);
		if (i == 0 || !(sh->sh_flags & SHF_COMPRESSED) || sh->sh_type == SHT_NOBITS)
			continue;
		err = raw_chdr(r, sh, &ch);
		if (err)
			break;
		end = (end + 15) & ~(uint64_t)15;
		err = write_inflated(fd, r, sh, end, &sh->sh_size);
		sh->sh_offset = end;
		sh->sh_flags &= ~(uint64_t)SHF_COMPRESSED;
		sh->sh_addralign = ch.ch_addralign;
		end += sh->sh_size;
	}
	if (!err) {
		end = (end + 7) & ~(uint64_t)7;
		err = write_all(fd, shdrs, r->shnum * sizeof(*shdrs), end);
	}
	if (!err) {
		eh.e_shoff = end;
		err = write_all(fd, &eh, sizeof(eh), 0);
	}
	/* The rename makes the entry visible: its bytes must be on disk
	 * before, or a crash could leave a named entry of zeros. */
	if (!err && fdatasync(fd) < 0)
		err = -errno;
	free(shdrs);
	return err;
}

/* Open entry @path and keep it when it matches @o; NULL otherwise. */
static struct elf_file *entry_open(const char *path, const struct raw_elf *o,
				   const uint8_t *id, size_t idlen)
{
	struct elf_file *ef = elf_file_open(path);
	const uint8_t *cid;
	struct raw_elf c;
	size_t size = 0;
	const uint8_t *img = ef ? (const uint8_t *)elf_rawfile(elf_file_elf(ef), &size) : NULL;

	if (!ef)
		return NULL;
	if (raw_parse(img, size, &c) == 0 && elf_file_build_id(ef, &cid) == idlen &&
	    memcmp(cid, id, idlen) == 0 && entry_matches(o, &c))
		return ef;
	elf_file_free(ef);
	errno = ESTALE;
	return NULL;
}

struct elf_file *debug_cache_open(struct debug_cache *dc, const struct elf_file *ef)
{
	char path[PATH_LEN], tmp[PATH_LEN], hex[2 * BUILD_ID_MAX + 1];
	const uint8_t *id;
	size_t idlen = ef ? elf_file_build_id(ef, &id) : 0, size = 0;
	const uint8_t *img = ef ? (const uint8_t *)elf_rawfile(elf_file_elf(ef), &size) : NULL;
	struct elf_file *out;
	struct raw_elf r;
	uint64_t need = 0;
	int err, fd, w;

	if (!dc || idlen < 2 || idlen > BUILD_ID_MAX) {
		errno = ENOENT;
		return NULL;
	}
	err = raw_parse(img, size, &r);
	if (!err)
		err = plan_entry(&r, &need);
	if (err) {
		errno = -err;
		return NULL;
	}
	for (size_t i = 0; i < idlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", id[i]);
	w = snprintf(path, sizeof(path), "%s/%s.debug", dc->dir, hex);
	if (w < 0 || (size_t)w >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	if (cache_dir_ready(dc, false) == 0) {
		out = entry_open(path, &r, id, idlen);
		if (out) {
			/* The mtime says when it was last used, for cache_trim. */
			utimensat(AT_FDCWD, path, NULL, 0);
			return out;
		}
	}
	if (need > dc->max_bytes) {
		errno = E2BIG;
		return NULL;
	}
	err = cache_dir_ready(dc, true);
	if (err) {
		log_debug("debug cache: cannot use %s: %s", dc->dir, strerror(-err));
		errno = -err;
		return NULL;
	}
	cache_trim(dc, need);
	snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dc->dir, hex);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		log_debug("debug cache: cannot write in %s: %s", dc->dir, strerror(errno));
		errno = -err;
		return NULL;
	}
	err = write_entry(fd, &r);
	if (close(fd) < 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err) {
		unlink(tmp);
		log_debug("debug cache: cannot write %s: %s", path, strerror(-err));
		errno = -err;
		return NULL;
	}
	log_debug("debug cache: wrote %s (%llu bytes)", path, (unsigned long long)need);
	return entry_open(path, &r, id, idlen);
}
