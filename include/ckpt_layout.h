/* ckpt_layout.h -- where the restorer sits: its zone, the one place these
 * numbers are written.
 *
 * Read by the C preprocessor for linker.ld.in (the Makefile makes
 * $(B)/linker.ld from it), for capture/api.c (tlongjmp maps the restorer
 * there) and for the tests; so plain #defines of numbers only, with no C
 * suffixes or casts, which the linker script would not take.
 *
 * The zone is [CKPT_ZONE_START, CKPT_ZONE_START + CKPT_ZONE_SIZE) =
 * [0x1c0000000000, 0x1c0040000000): 1 GiB at 28 TiB, where nothing Linux
 * places by default lives (linker.ld.in says why, docs/restore.md "Where the
 * restorer sits").  It holds the restorer's text, rodata, data and bss (its
 * stacks), from CKPT_ZONE_TABLES the image tables, and from CKPT_ZONE_PARK to
 * the end the parking place of the kernel's vdso/vvar.  The restorer itself
 * reads these as the linker script's symbols rst_zone_start, rst_zone_end,
 * rst_tables_addr and rst_park_addr.
 */
#ifndef CKPT_LAYOUT_H
#define CKPT_LAYOUT_H

#define CKPT_ZONE_START		0x1c0000000000
#define CKPT_ZONE_SIZE		0x40000000
#define CKPT_ZONE_END		(CKPT_ZONE_START + CKPT_ZONE_SIZE)
#define CKPT_ZONE_TABLES	(CKPT_ZONE_START + 0x1000000)		/* + 16 MiB */
#define CKPT_ZONE_PARK		(CKPT_ZONE_START + CKPT_ZONE_SIZE - 0x1000000)	/* last 16 MiB */

#endif
