/*
 * rules.c — the name, tag and query rules of notes/ (include/hubfs/notes.h): which names are
 * editor scratch, which are reserved, the note name check, user.xdg.tags normalisation and the
 * quoting of a search directory name that is not valid FTS5 syntax.
 *
 * Pure functions over borrowed strings: no state, no allocation, no locks; any thread may
 * call them. Every input comes from users (FUSE names, xattr values, search directory names),
 * so nothing here reads past a terminating NUL or a given length, and every output is bounded
 * by its buffer (-ERANGE when short, with the buffer left holding an empty string).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "hubfs/names.h"
#include "hubfs/notes.h"

/* vim's write probe: "4913", then 4913 + 123, + 246, ... until a free name is found. */
#define NOTES_VIM_PROBE_FIRST 4913u
#define NOTES_VIM_PROBE_STEP 123u
/* vim counts in an int: no probe name is longer than that. */
#define NOTES_VIM_PROBE_DIGITS_MAX 10

/* mkstemp()'s "XXXXXX": the random part of sed -i and rsync temporaries. */
#define NOTES_MKSTEMP_LEN 6

#define NOTES_TAG_MAX 64  /* bytes in one normalised tag */
#define NOTES_TAGS_MAX 64 /* distinct tags on one note */

static const char *const notes_reserved[] = { ".versions", ".search", ".conflicts" };

/* FTS5 columns of the search index a term may be restricted to ("tags:work"). */
static const char *const notes_fts_columns[] = { "title", "content", "tags" };

static bool notes_is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static bool notes_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool notes_has_prefix(const char *name, size_t len, const char *prefix)
{
	size_t plen = strlen(prefix);

	return len >= plen && !memcmp(name, prefix, plen);
}

static bool notes_has_suffix(const char *name, size_t len, const char *suffix)
{
	size_t slen = strlen(suffix);

	return len >= slen && !memcmp(name + len - slen, suffix, slen);
}

/* @n bytes at @s are all [A-Za-z0-9]: the alphabet of mkstemp()'s random part. */
static bool notes_all_alnum(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!notes_is_alnum(s[i]))
			return false;
	return true;
}

/*
 * vim's write probe (":help 'backupcopy'", fileio.c): before writing, vim checks it may
 * create files in the directory by creating "4913"; when that name is taken it tries 4913 +
 * 123, + 246, ... printed with "%d", so no leading zero and at most an int's digits.
 */
static bool notes_is_vim_probe(const char *name, size_t len)
{
	uint64_t n = 0;

	if (len < 4 || len > NOTES_VIM_PROBE_DIGITS_MAX || name[0] == '0')
		return false;
	for (size_t i = 0; i < len; i++) {
		if (name[i] < '0' || name[i] > '9')
			return false;
		n = n * 10 + (uint64_t)(name[i] - '0');
	}
	return n >= NOTES_VIM_PROBE_FIRST &&
	       (n - NOTES_VIM_PROBE_FIRST) % NOTES_VIM_PROBE_STEP == 0;
}

/*
 * vim's swap files ".NAME.swp", and ".swo", ".swn", ... when the first is taken: a hidden
 * name, a non-empty NAME, then ".sw" and one letter (vim counts down from 'p' through the
 * alphabet). The glob is ".*.sw?"; '?' is only ever a lower-case letter.
 */
static bool notes_is_vim_swap(const char *name, size_t len)
{
	/* '.' + at least one byte of NAME + ".sw" + letter */
	if (len < 6 || name[0] != '.')
		return false;
	if (memcmp(name + len - 4, ".sw", 3))
		return false;
	return name[len - 1] >= 'a' && name[len - 1] <= 'z';
}

/*
 * rsync's temporaries ".NAME.XXXXXX" (receiver.c get_tmpname(): a dot, the file's name, a
 * dot and mkstemp()'s six letters/digits). NAME is non-empty, so ".plan" and "..abcdef" are
 * not temporaries. A hidden note whose last extension is exactly six letters/digits
 * (".notes.backup") looks the same and is treated as scratch: that is the pattern's cost.
 */
static bool notes_is_rsync_tmp(const char *name, size_t len)
{
	/* '.' + at least one byte of NAME + '.' + XXXXXX */
	if (len < 1 + 1 + 1 + NOTES_MKSTEMP_LEN || name[0] != '.')
		return false;
	if (name[len - NOTES_MKSTEMP_LEN - 1] != '.')
		return false;
	return notes_all_alnum(name + len - NOTES_MKSTEMP_LEN, NOTES_MKSTEMP_LEN);
}

bool hubfs_note_is_scratch(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strnlen(name, HUBFS_NAME_MAX + 1);
	if (len == 0 || len > HUBFS_NAME_MAX)
		return false;

	/* vim: swap files and the write probe. */
	if (notes_is_vim_swap(name, len) || notes_is_vim_probe(name, len))
		return true;
	/* Backups "NAME~": vim's 'backup'/'writebackup', emacs, nano -B, gedit. Only a
	 * trailing '~' counts: "notes~draft" is a note. */
	if (name[len - 1] == '~')
		return true;
	/* emacs: lock symlinks ".#NAME" and auto-save files "#NAME#". */
	if (notes_has_prefix(name, len, ".#"))
		return true;
	if (len >= 2 && name[0] == '#' && name[len - 1] == '#')
		return true;
	/* GIO's g_file_replace() (gedit, nautilus): ".goutputstream-XXXXXX". */
	if (notes_has_prefix(name, len, ".goutputstream-"))
		return true;
	/* GNU sed -i: "sed" + mkstemp()'s six letters/digits, nothing more ("sedimentary.md"
	 * is a note). */
	if (len == 3 + NOTES_MKSTEMP_LEN && notes_has_prefix(name, len, "sed") &&
	    notes_all_alnum(name + 3, NOTES_MKSTEMP_LEN))
		return true;
	/* Atomic saves that write "NAME.tmp" or ".NAME.tmp" and rename it over (Python
	 * scripts, many editors' save helpers). ".*.tmp" is a case of "*.tmp". Only the last
	 * extension counts: "a.tmp.md" is a note. */
	if (notes_has_suffix(name, len, ".tmp"))
		return true;
	/* LibreOffice's lock files ".~lock.NAME#". */
	if (notes_has_prefix(name, len, ".~lock.") && name[len - 1] == '#')
		return true;
	/* rsync: ".NAME.XXXXXX". */
	return notes_is_rsync_tmp(name, len);
}

bool hubfs_note_is_reserved(const char *name)
{
	if (!name)
		return false;
	for (size_t i = 0; i < sizeof(notes_reserved) / sizeof(notes_reserved[0]); i++)
		if (!strcmp(name, notes_reserved[i]))
			return true;
	return false;
}

int hubfs_note_name_check(const char *name, bool top)
{
	int rc;

	if (!name)
		return -EINVAL;
	rc = hubfs_name_check(name, strnlen(name, HUBFS_NAME_MAX + 1));
	if (rc)
		return rc;
	if (top && hubfs_note_is_reserved(name))
		return -EINVAL;
	return 0;
}

/*
 * The length of the well-formed UTF-8 sequence of a non-ASCII character at @s (at most @n
 * bytes available), or 0 when it is malformed: a stray continuation byte, a truncated
 * sequence, an overlong form, a surrogate or a code point past U+10FFFF (RFC 3629).
 */
static size_t notes_utf8_len(const unsigned char *s, size_t n)
{
	size_t need;
	uint32_t cp, min;

	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		cp = s[0] & 0x1f;
		min = 0x80;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		cp = s[0] & 0x0f;
		min = 0x800;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		cp = s[0] & 0x07;
		min = 0x10000;
	} else {
		return 0; /* 0x80..0xc1 (continuation, overlong lead) or 0xf5..0xff */
	}
	if (n < need)
		return 0;
	for (size_t i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need;
}

/* A tag byte outside UTF-8 sequences: ASCII letters, digits and - _ . / : */
static bool notes_tag_ascii_ok(unsigned char c)
{
	return notes_is_alnum((char)c) || c == '-' || c == '_' || c == '.' || c == '/' || c == ':';
}

/*
 * Lower-case one trimmed, non-empty tag of @n bytes into @out (NUL-terminated). -EINVAL for
 * a byte a tag may not hold, malformed UTF-8, or more than NOTES_TAG_MAX bytes.
 */
static int notes_tag_copy(const unsigned char *s, size_t n, char out[NOTES_TAG_MAX + 1])
{
	size_t i = 0;

	if (n > NOTES_TAG_MAX)
		return -EINVAL;
	while (i < n) {
		size_t k;

		if (s[i] < 0x80) {
			if (!notes_tag_ascii_ok(s[i]))
				return -EINVAL;
			out[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] - 'A' + 'a' : s[i]);
			i++;
			continue;
		}
		k = notes_utf8_len(s + i, n - i);
		if (!k)
			return -EINVAL;
		memcpy(out + i, s + i, k); /* non-ASCII is kept as is: no Unicode case folding */
		i += k;
	}
	out[n] = '\0';
	return 0;
}

int hubfs_note_tags_normalize(const char *in, size_t inlen, char *out, size_t len)
{
	char tags[NOTES_TAGS_MAX][NOTES_TAG_MAX + 1];
	const unsigned char *s = (const unsigned char *)in;
	unsigned int ntags = 0;
	size_t pos = 0, need = 1;
	int rc;

	if (out && len)
		out[0] = '\0';
	if (!in && inlen)
		return -EINVAL;
	while (pos < inlen) {
		size_t start = pos, end, slot;
		char tag[NOTES_TAG_MAX + 1];
		int cmp = 1;

		while (pos < inlen && s[pos] != ',')
			pos++;
		end = pos;
		pos++; /* past the ',' (or the end) */
		while (start < end && notes_is_space((char)s[start]))
			start++;
		while (end > start && notes_is_space((char)s[end - 1]))
			end--;
		if (start == end)
			continue; /* "a,,b", "a, ,b", a trailing ',' */
		rc = notes_tag_copy(s + start, end - start, tag);
		if (rc)
			return rc;

		/* Insert in byte order (the same on every peer, whatever the locale), once. */
		for (slot = 0; slot < ntags; slot++) {
			cmp = strcmp(tag, tags[slot]);
			if (cmp <= 0)
				break;
		}
		if (slot < ntags && cmp == 0)
			continue;
		if (ntags == NOTES_TAGS_MAX)
			return -EINVAL;
		memmove(tags[slot + 1], tags[slot], (ntags - slot) * sizeof(tags[0]));
		memcpy(tags[slot], tag, sizeof(tag));
		ntags++;
	}

	for (unsigned int i = 0; i < ntags; i++)
		need += strlen(tags[i]) + (i ? 1 : 0);
	if (!out || len < need)
		return -ERANGE;
	pos = 0;
	for (unsigned int i = 0; i < ntags; i++) {
		size_t n = strlen(tags[i]);

		if (i)
			out[pos++] = ',';
		memcpy(out + pos, tags[i], n);
		pos += n;
	}
	out[pos] = '\0';
	return 0;
}

/* The length of a "column:" prefix naming a column of the index at @term, or 0. */
static size_t notes_column_prefix(const char *term, size_t n)
{
	for (size_t i = 0; i < sizeof(notes_fts_columns) / sizeof(notes_fts_columns[0]); i++) {
		size_t clen = strlen(notes_fts_columns[i]);

		/* FTS5 matches column names without regard to case. */
		if (n > clen + 1 && term[clen] == ':' &&
		    !strncasecmp(term, notes_fts_columns[i], clen))
			return clen + 1;
	}
	return 0;
}

/* Append @n bytes to @out at *@pos, keeping room for the final NUL. -ERANGE when full. */
static int notes_put(char *out, size_t len, size_t *pos, const char *s, size_t n)
{
	if (len - *pos <= n)
		return -ERANGE;
	memcpy(out + *pos, s, n);
	*pos += n;
	return 0;
}

/*
 * One whitespace-free term as FTS5: [column:]"text"[*]. The text is an FTS5 string (internal
 * '"' doubled), so whatever punctuation it holds the tokenizer splits it, never the parser.
 */
static int notes_quote_term(const char *term, size_t n, char *out, size_t len, size_t *pos)
{
	size_t col = notes_column_prefix(term, n);
	bool star;
	int rc;

	rc = notes_put(out, len, pos, term, col);
	if (rc)
		return rc;
	term += col;
	n -= col;
	/* "budget*" is a prefix query: the '*' goes after the string. A lone "*" is text. */
	star = n > 1 && term[n - 1] == '*';
	if (star)
		n--;
	rc = notes_put(out, len, pos, "\"", 1);
	for (size_t i = 0; i < n && !rc; i++) {
		if (term[i] == '"')
			rc = notes_put(out, len, pos, "\"\"", 2);
		else
			rc = notes_put(out, len, pos, term + i, 1);
	}
	if (!rc)
		rc = notes_put(out, len, pos, "\"", 1);
	if (!rc && star)
		rc = notes_put(out, len, pos, "*", 1);
	return rc;
}

int hubfs_note_query_quote(const char *raw, char *out, size_t len)
{
	const char *p = raw;
	size_t pos = 0;
	int rc = 0;

	if (!out || len == 0)
		return -ERANGE;
	out[0] = '\0';
	if (!raw)
		return -EINVAL;
	for (;;) {
		size_t n;

		while (notes_is_space(*p))
			p++;
		if (!*p)
			break;
		n = 0;
		while (p[n] && !notes_is_space(p[n]))
			n++;
		/* Terms are joined by spaces: FTS5's implicit AND. */
		if (pos) {
			rc = notes_put(out, len, &pos, " ", 1);
			if (rc)
				goto out;
		}
		rc = notes_quote_term(p, n, out, len, &pos);
		if (rc)
			goto out;
		p += n;
	}
out:
	if (rc)
		pos = 0;
	out[pos] = '\0';
	return rc;
}
