/* job.c -- a job table (ckpt_image.h, "a job"): read whole and checked, for
 * the restorer, readckpt and ckpt info.  The one validator of the format;
 * each member image is then read by read.c like any other. */
#include "image.h"
#include "ckpt_sys.h"

/* a member image's file name: a hidden name (".") of [A-Za-z0-9._-], so that
 * it can only name a file in the table's own directory */
int img_job_name_ok(const char *s)
{
	uint32_t n = 0;

	if (s[0] != '.')
		return 0;
	for (; n < sizeof(((struct ckpt_job_proc *)0)->image) && s[n]; n++) {
		char c = s[n];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return 0;
	}
	return n > 2 && n < sizeof(((struct ckpt_job_proc *)0)->image);
}

static int check_procs(const struct img_job *j, struct img_err *e)
{
	for (uint32_t i = 0; i < j->hdr.nprocs; i++) {
		const struct ckpt_job_proc *p = &j->procs[i];

		if (p->pid <= 0 || p->pgid < 0 || p->sid < 0 || p->state > CKPT_JOB_ZOMBIE)
			return img_fail(e, "job process %u: pid %d, group %d, session %d, state %u out of range", i,
					p->pid, p->pgid, p->sid, p->state);
		if (i == 0 ? p->parent != -1 || p->state != CKPT_JOB_LIVE :
			     p->parent < 0 || (uint32_t)p->parent >= i || j->procs[p->parent].state != CKPT_JOB_LIVE)
			return img_fail(e, "job process %u (pid %d): parent %d is not a live process listed before it",
					i, p->pid, p->parent);
		if (p->comm[sizeof(p->comm) - 1])
			return img_fail(e, "job process %u (pid %d): name not terminated", i, p->pid);
		if (p->state == CKPT_JOB_LIVE ? !img_job_name_ok(p->image) : p->image[0] != 0)
			return img_fail(e, "job process %u (pid %d): bad image name", i, p->pid);
		if (p->state == CKPT_JOB_ZOMBIE && ((p->status & 0x7f) == 0x7f || (p->status & ~0xffff)))
			return img_fail(e, "job process %u (pid %d): wait status 0x%x is not an exit", i, p->pid,
					p->status);
		for (uint32_t k = 0; k < i; k++)
			if (j->procs[k].pid == p->pid)
				return img_fail(e, "job process %u: pid %d listed twice", i, p->pid);
	}
	return 0;
}

/* A CKPT_JOB_SHM object's data: its content's file and length, and each
 * piece's process (a live one; the first the owner), region and offset */
static int check_shm(const struct img_job *j, const struct ckpt_job_obj *o, uint32_t k, struct img_err *e)
{
	const struct ckpt_job_shm *m = (const struct ckpt_job_shm *)(j->base + o->data_off);
	const struct ckpt_job_shm_map *p = (const struct ckpt_job_shm_map *)(m + 1);

	if (o->data_len < sizeof(*m) || o->data_len != sizeof(*m) + (uint64_t)m->nmaps * sizeof(*p) ||
	    !m->nmaps || !img_job_name_ok(m->file) || !m->size || (m->size & (CKPT_PAGE_SIZE - 1)) ||
	    m->stored > m->size / CKPT_PAGE_SIZE || p[0].proc != o->owner)
		return img_fail(e, "job object %u: shared memory of %lu bytes in %u pieces: out of range", k,
				o->data_len >= sizeof(*m) ? m->size : 0, o->data_len >= sizeof(*m) ? m->nmaps : 0);
	for (uint32_t i = 0; i < m->nmaps; i++)
		if (p[i].proc >= j->hdr.nprocs || j->procs[p[i].proc].state != CKPT_JOB_LIVE || p[i].reserved ||
		    p[i].start >= p[i].end || ((p[i].start | p[i].end | p[i].offset) & (CKPT_PAGE_SIZE - 1)) ||
		    p[i].offset > m->size || p[i].end - p[i].start > m->size - p[i].offset)
			return img_fail(e, "job object %u: shared memory piece %u (process %u, 0x%lx) out of range", k,
					i, p[i].proc, p[i].start);
	return 0;
}

static int check_objs(const struct img_job *j, struct img_err *e)
{
	for (uint32_t k = 0; k < j->hdr.nobjs; k++) {
		const struct ckpt_job_obj *o = &j->objs[k];
		int owned = 0;

		if (o->kind < CKPT_JOB_FILE || o->kind > CKPT_JOB_SHM || o->owner >= j->hdr.nprocs ||
		    j->procs[o->owner].state != CKPT_JOB_LIVE || (o->kind == CKPT_JOB_FILE) != (o->owner_fd >= 0) ||
		    o->owner_fd < -1 || (o->kind != CKPT_JOB_UNIX_PAIR && o->split) ||
		    (o->kind == CKPT_JOB_UNIX_PAIR && ((o->pipe_size != 1 && o->pipe_size != 2 && o->pipe_size != 5) ||
						       o->split > o->data_len)) ||
		    (o->kind == CKPT_JOB_SHM && o->pipe_size))
			return img_fail(e, "job object %u: kind %u, owner %u, fd %d out of range", k, o->kind, o->owner,
					o->owner_fd);
		if (o->kind == CKPT_JOB_FILE ? o->data_len || o->pipe_size :
		    (o->kind == CKPT_JOB_PIPE && o->data_len > o->pipe_size) || o->data_off < j->hdr.data_off ||
		    o->data_off > j->hdr.file_size || o->data_len > j->hdr.file_size - o->data_off ||
		    ckpt_crc32c(0, j->base + o->data_off, o->data_len) != o->data_crc)
			return img_fail(e, "job object %u: its %lu stored bytes are out of range or corrupted", k,
					o->data_len);
		if (o->kind == CKPT_JOB_SHM) {
			if (check_shm(j, o, k, e))
				return -1;
			continue;		/* mapped, not held: no descriptor names it */
		}
		for (uint32_t r = 0; r < j->hdr.nrefs; r++)
			if (j->refs[r].obj == k && j->refs[r].proc == o->owner &&
			    (o->kind != CKPT_JOB_FILE || j->refs[r].fd == o->owner_fd))
				owned = 1;
		if (!owned)
			return img_fail(e, "job object %u: its owner (process %u) does not hold it", k, o->owner);
	}
	return 0;
}

static int check_refs(const struct img_job *j, struct img_err *e)
{
	for (uint32_t r = 0; r < j->hdr.nrefs; r++) {
		const struct ckpt_job_ref *f = &j->refs[r], *prev = r ? &j->refs[r - 1] : 0;

		if (f->proc >= j->hdr.nprocs || j->procs[f->proc].state != CKPT_JOB_LIVE || f->fd < 0 ||
		    f->obj >= j->hdr.nobjs || f->end > (j->objs[f->obj].kind != CKPT_JOB_FILE ? 1u : 0u))
			return img_fail(e, "job descriptor %u: process %u, fd %d, object %u, end %u out of range", r,
					f->proc, f->fd, f->obj, f->end);
		if (prev && (prev->proc > f->proc || (prev->proc == f->proc && prev->fd >= f->fd)))
			return img_fail(e, "job descriptor %u: not in order (process, then fd)", r);
	}
	return 0;
}

int img_job_is(const char *path)
{
	long fd = sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	uint32_t magic = 0;

	if (sys_failed(fd))
		return 0;
	if (sys_pread((int)fd, &magic, 4, 0) != 4)
		magic = 0;
	sys_close((int)fd);
	return magic == CKPT_JOB_MAGIC;
}

int img_job_open(struct img_job *j, const char *path, struct img_err *e)
{
	struct ckpt_job_hdr *h = &j->hdr;
	struct ksys_stat st;
	uint32_t crc;
	long r;

	j->base = 0;
	j->fd = (int)sys_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (sys_failed(j->fd))
		return img_fail(e, "cannot open: errno %d", -j->fd);
	if (sys_failed(sys_fstat(j->fd, &st)) || st.st_size < (int64_t)sizeof(*h) ||
	    st.st_size > (int64_t)CKPT_JOB_MAX_SIZE)
		return img_fail(e, "a job table of %ld bytes: out of range", (long)st.st_size);
	r = sys_mmap(0, (uint64_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (sys_failed(r))
		return img_fail(e, "no memory for the job table: errno %d", (int)-r);
	j->base = (uint8_t *)r;
	j->size = (uint64_t)st.st_size;
	if (sys_pread(j->fd, j->base, j->size, 0) != (long)j->size)
		return img_fail(e, "job table cut short: image corrupted");
	memcpy(h, j->base, sizeof(*h));
	if (h->magic != CKPT_JOB_MAGIC || h->version != CKPT_JOB_VERSION)
		return img_fail(e, "not a job table of version %u (magic 0x%x, version %u)", CKPT_JOB_VERSION,
				h->magic, h->version);
	crc = h->crc;
	((struct ckpt_job_hdr *)j->base)->crc = 0;
	if (ckpt_crc32c(0, j->base, j->size) != crc)
		return img_fail(e, "job table checksum mismatch: image corrupted");
	((struct ckpt_job_hdr *)j->base)->crc = crc;
	if (h->file_size != j->size || !h->nprocs || h->nprocs > CKPT_JOB_MAX_PROCS || h->nobjs > CKPT_JOB_MAX_OBJS ||
	    h->nrefs > CKPT_JOB_MAX_REFS || h->procs_off != sizeof(*h) ||
	    h->objs_off != h->procs_off + (uint64_t)h->nprocs * sizeof(struct ckpt_job_proc) ||
	    h->refs_off != h->objs_off + (uint64_t)h->nobjs * sizeof(struct ckpt_job_obj) ||
	    h->data_off != h->refs_off + (uint64_t)h->nrefs * sizeof(struct ckpt_job_ref) || h->data_off > j->size)
		return img_fail(e, "job table layout out of range (%u processes, %u objects, %u descriptors)",
				h->nprocs, h->nobjs, h->nrefs);
	j->procs = (struct ckpt_job_proc *)(j->base + h->procs_off);
	j->objs = (struct ckpt_job_obj *)(j->base + h->objs_off);
	j->refs = (struct ckpt_job_ref *)(j->base + h->refs_off);
	return check_procs(j, e) || check_objs(j, e) || check_refs(j, e) ? -1 : 0;
}

#if __STDC_HOSTED__			/* the tools' and libckpt's: the restorer keeps the table */
void img_job_close(struct img_job *j)
{
	if (j->base)
		sys_munmap((uint64_t)j->base, j->size);
	if (j->fd >= 0)
		sys_close(j->fd);
	j->base = 0;
	j->fd = -1;
}
#endif

/* the member image of process p: the table's directory, then its name; its
 * length, or 0 when it does not fit in cap */
size_t img_job_member_path(const char *table, const struct ckpt_job_proc *p, char *out, size_t cap)
{
	return img_job_beside(table, p->image, out, cap);
}

/* table's directory and name (88 bytes at most, checked): the path of a
 * file of the job beside its table; 0 (out "") when it is too long */
size_t img_job_beside(const char *table, const char *name, char *out, size_t cap)
{
	size_t dir = 0, n = 0, max = sizeof(((struct ckpt_job_proc *)0)->image);

	for (size_t i = 0; table[i]; i++)
		if (table[i] == '/')
			dir = i + 1;
	if (dir + max >= cap) {
		out[0] = 0;
		return 0;
	}
	memcpy(out, table, dir);
	for (; n < max - 1 && name[n]; n++)
		out[dir + n] = name[n];
	out[dir + n] = 0;
	return dir + n;
}
