/* paths.c -- the paths an image names, as they are on this machine.
 *
 * A program restored after its files moved, or on another machine, finds
 * them elsewhere.  Two options say where:
 *   --map-path OLD=NEW   (up to RST_MAX_MAPS) a path OLD, or one under it, is
 *                        NEW, or the same path under NEW.  OLD matches whole
 *                        components: /data maps /data and /data/x, not
 *                        /database.  The longest OLD that matches wins; a
 *                        path is mapped once, never again by its result.
 *   --cwd DIR            the working directory, instead of the image's
 * Every path the restorer takes from the image (its cwd, mapped files, the
 * files and FIFOs of descriptors, a deleted file's directory) goes through
 * rst_map_path before it is opened or checked.  Nothing else changes: the
 * new path is pinned (rst_pin: no final symlink, its type checked) and
 * opened with the rights the restorer has once check_owner has run, as the
 * recorded one was.  The options come from the command line, never from the
 * image, and name nothing the caller could not name as the image's path.
 */
#include "rst.h"

#define TEXT_OF(n)	#n
#define NUMBER_TEXT(n)	TEXT_OF(n)

struct path_map {
	char old[RST_PATH_MAX], new[RST_PATH_MAX];	/* no trailing '/': "/" is "" */
	size_t old_len, new_len;
};

static struct path_map maps[RST_MAX_MAPS];
static uint32_t nmaps;
char rst_cwd[RST_PATH_MAX];		/* --cwd DIR, or "" */

/* an absolute path shorter than RST_PATH_MAX into out (len bytes of s),
 * without its trailing slashes; its length, or -1 */
static long take_path(char *out, const char *s, size_t len)
{
	if (!len || s[0] != '/' || len >= RST_PATH_MAX)
		return -1;
	while (len && s[len - 1] == '/')
		len--;
	memcpy(out, s, len);
	out[len] = 0;
	return (long)len;
}

/* "--map-path OLD=NEW": 0, or the reason it is refused (a format for one %s, the argument) */
const char *rst_add_map(const char *arg)
{
	struct path_map *m = &maps[nmaps];
	size_t eq = 0;
	long o, n;

	while (arg[eq] && arg[eq] != '=')
		eq++;
	if (!arg[eq])
		return "restorer: --map-path '%s': not OLD=NEW (no '=')\n";
	if (nmaps == RST_MAX_MAPS)
		return "restorer: --map-path '%s': more than " NUMBER_TEXT(RST_MAX_MAPS) " mappings\n";
	if (eq >= RST_PATH_MAX || rst_strlen(arg + eq + 1) >= RST_PATH_MAX)
		return "restorer: --map-path: a path of 4096 bytes or more\n";
	o = take_path(m->old, arg, eq);
	n = take_path(m->new, arg + eq + 1, rst_strlen(arg + eq + 1));
	if (o < 0 || n < 0)
		return "restorer: --map-path '%s': OLD and NEW must be absolute paths\n";
	m->old_len = (size_t)o;
	m->new_len = (size_t)n;
	nmaps++;
	return 0;
}

/* "--cwd DIR": 0, or the reason it is refused (a format for one %s) */
const char *rst_set_cwd(const char *dir)
{
	if (rst_strlen(dir) >= RST_PATH_MAX)
		return "restorer: --cwd: a path of 4096 bytes or more\n";
	if (take_path(rst_cwd, dir, rst_strlen(dir)) < 0)
		return "restorer: --cwd '%s': not an absolute path\n";
	if (!rst_cwd[0])
		rst_cwd[0] = '/', rst_cwd[1] = 0;
	return 0;
}

/* -v: the mappings the command line gave */
void rst_say_maps(void)
{
	for (uint32_t i = 0; i < nmaps; i++)
		img_say(2, "restorer: --map-path: %s/... is %s/... here\n", maps[i].old, maps[i].new);
	if (rst_cwd[0])
		img_say(2, "restorer: --cwd: working directory %s\n", rst_cwd);
}

/* path as this machine has it: path itself when no OLD matches, else NEW
 * and the rest of path in out.  0 after img_fail when that is too long. */
const char *rst_map_path(const char *path, char *out, struct img_err *e)
{
	const struct path_map *best = 0;
	size_t rest;

	for (uint32_t i = 0; i < nmaps; i++) {
		const struct path_map *m = &maps[i];

		/* memcmp stops at the first difference: never past path's NUL */
		if (!memcmp(path, m->old, m->old_len) && (path[m->old_len] == '/' || !path[m->old_len]) &&
		    (!best || m->old_len > best->old_len))
			best = m;
	}
	if (!best)
		return path;
	rest = rst_strlen(path + best->old_len);
	if (best->new_len + rest >= RST_PATH_MAX)
		return img_fail(e, "%s is 4096 bytes or more once --map-path maps it", path), (const char *)0;
	memcpy(out, best->new, best->new_len);
	memcpy(out + best->new_len, path + best->old_len, rest + 1);
	if (!out[0])				/* OLD itself mapped to "/" */
		out[0] = '/', out[1] = 0;
	return out;
}

/* the directory of path, for "--map-path DIR=NEW" in a message: into out (RST_PATH_MAX) */
const char *rst_dir_of(const char *path, char *out)
{
	size_t cut = rst_strlen(path);

	if (cut >= RST_PATH_MAX)
		cut = RST_PATH_MAX - 1;
	while (cut > 1 && path[cut - 1] != '/')
		cut--;
	cut = cut > 1 ? cut - 1 : 1;		/* "/a/b" -> "/a", "/b" -> "/" */
	memcpy(out, path, cut);
	out[cut] = 0;
	return out;
}
