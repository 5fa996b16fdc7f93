/* chain.c -- the parents of an incremental image.
 *
 * An incremental image names its parent by file name, in its own directory,
 * and by id; the parent may have a parent of its own, back to a full image
 * (depth 0).  The restorer and `ckpt merge` open the whole chain, each image
 * checked by img_open(), before they use any of it.
 */
#include "image.h"

/* Open the parents of top, whose path is path: parents[0] is its parent,
 * parents[n - 1] the full image; paths[i] holds parents[i]'s path.  With a
 * table_addr, the tables go one after another from there and must end by
 * table_limit; with 0 they go anywhere.  The number of parents, or -1 with e
 * filled. */
int img_open_parents(const struct img *top, const char *path, struct img *parents, char (*paths)[IMG_PATH_MAX],
		     uint32_t max, uint64_t table_addr, uint64_t table_limit, struct img_err *e)
{
	const struct img *child = top;
	const char *why, *name;
	struct img_err inner;
	size_t dir = 0, len;
	uint32_t n;

	if (top->hdr.depth > max)		/* each parent is one less deep */
		return img_fail(e, "chain of more than %u images", max);
	for (size_t i = 0; path[i]; i++)
		if (path[i] == '/')
			dir = i + 1;
	inner.msg[0] = 0;
	for (n = 0; child->hdr.depth; child = &parents[n++]) {
		struct img *p = &parents[n];

		table_addr += table_addr ? (child->hdr.tables_size + 0xfff) & ~0xfffull : 0;
		name = child->hdr.parent_name;
		for (len = 0; name[len]; len++)
			;
		why = "parent %s: path too long";
		if (dir + len >= IMG_PATH_MAX)
			goto fail;
		memcpy(paths[n], path, dir);
		memcpy(paths[n] + dir, name, len + 1);
		name = paths[n];
		why = "parent %s: %S";	/* %S: the reason is escaped already */
		if (img_open(p, name, table_addr, &inner))
			goto fail;
		why = "parent %s is not the image this one was taken after";
		if (memcmp(p->hdr.image_id, child->hdr.parent_id, 16) || p->hdr.depth + 1 != child->hdr.depth)
			goto fail;
		why = "the chain's tables do not fit the restorer's zone";
		if (table_addr + p->hdr.tables_size > table_limit)
			goto fail;
	}
	return (int)n;
fail:
	return img_fail(e, why, name, inner.msg);
}
