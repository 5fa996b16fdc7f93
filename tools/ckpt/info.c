/* info.c -- `ckpt info`: print an image (readckpt) or describe it in JSON. */
#include "ckpt.h"

const char info_help[] =
	"usage: ckpt info [--json] [IMAGE]\n"
	"print IMAGE (default: myckpt) after validating it like the restorer does\n"
	"      --json          one JSON object: header, machine, threads, process, regions\n"
	"                      (a job: its processes, each with its image's path, and what\n"
	"                      they share)\n"
	"                      (addresses as \"0x...\" strings, sizes as numbers)\n"
	"without --json this runs readckpt IMAGE\n"
	"exit status: 0 printed, 2 image refused or usage error, 1 no readckpt\n";

/* a string from the image as readckpt and the restorer print it (img_escape:
 * printable ASCII, \n \t \r \xHH, backslash doubled), then JSON-quoted: the
 * value stays one line of plain text even when a consumer prints it raw */
static void json_str(FILE *f, const char *s)
{
	static char buf[4 * 4096 + 1];

	img_escape(buf, sizeof(buf), s);
	fputc('"', f);
	for (const char *p = buf; *p; p++) {
		if (*p == '"' || *p == '\\')
			fputc('\\', f);
		fputc(*p, f);
	}
	fputc('"', f);
}

static const char *const sig_abbrev[32] = {
	[1] = "HUP", "INT", "QUIT", "ILL", "TRAP", "ABRT", "BUS", "FPE", "KILL", "USR1", "SEGV",
	"USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CHLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
	"URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
};

static void json_sigset(FILE *f, uint64_t m)
{
	int first = 1;

	fputc('[', f);
	for (int s = 1; s <= CKPT_NSIG; s++)
		if (m & (1ull << (s - 1))) {
			fprintf(f, "%s%d", first ? "" : ", ", s);
			first = 0;
		}
	fputc(']', f);
}

/* path, format, program, machine */
static void json_header(FILE *f, const struct img *img, const char *path)
{
	const struct ckpt_hdr *h = &img->hdr;
	time_t created = (time_t)(h->created_ns / 1000000000ull);
	char when[64];

	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", gmtime(&created));
	fputs("{\n  \"path\": ", f);
	json_str(f, path);
	fprintf(f, ",\n  \"format_version\": %u,\n  \"file_size\": %lu,\n  \"tables_size\": %lu,\n"
		"  \"data_size\": %lu,\n  \"created_ns\": %lu,\n  \"created\": \"%s\",\n",
		h->version, h->file_size, h->tables_size, h->data_size, h->created_ns, when);
	if (img->packed_size)
		fprintf(f, "  \"compressed\": {\"codec\": \"zstd\", \"stored_size\": %lu, \"frames\": %u},\n",
			img->packed_size, img->packed_frames);
	fprintf(f, "  \"clock_monotonic_ns\": %ld,\n  \"clock_boottime_ns\": %ld,\n", h->clock_mono_ns,
		h->clock_boot_ns);
	fputs("  \"program\": ", f);
	json_str(f, h->program);
	fprintf(f, ",\n  \"pid\": %u,\n", img->proc->pid);
	fputs("  \"machine\": {\"cpu_vendor\": ", f);
	json_str(f, h->cpu_vendor);
	fputs(", \"kernel\": ", f);
	json_str(f, h->kernel);
	fprintf(f, ", \"page_size\": %u, \"xcr0\": \"0x%lx\", \"xsave_size\": %u, \"hwcap2\": \"0x%lx\",\n"
		"    \"cpuid1_ecx\": \"0x%08x\", \"cpuid1_edx\": \"0x%08x\", \"cpuid7_ebx\": \"0x%08x\","
		" \"cpuid7_ecx\": \"0x%08x\", \"cpuid7_edx\": \"0x%08x\",\n"
		"    \"vdso_size\": %lu, \"vdso_crc\": \"0x%08x\", \"vvar_size\": %lu, \"vvar_vclock_size\": %lu,"
		" \"vdso_stored\": %s},\n",
		h->page_size, h->xcr0, h->xsave_size, h->hwcap2, h->cpuid1_ecx, h->cpuid1_edx,
		h->cpuid7_ebx, h->cpuid7_ecx, h->cpuid7_edx, h->vdso_size, h->vdso_crc, h->vvar_size,
		h->vvar_vclock_size, h->vdso_data_off ? "true" : "false");
}

static void json_threads(FILE *f, const struct img *img)
{
	static const char *const rn[16] = { "rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp",
					    "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15" };

	fputs("  \"threads\": [", f);
	for (uint32_t i = 0; i < img->hdr.nthreads; i++) {
		const struct ckpt_thread *t = &img->threads[i];
		const uint64_t *v = &t->regs.rax;

		fprintf(f, "%s\n    {\"tid\": %u, \"fpu\": \"%s\", \"xsave_size\": %u, \"xfeatures\": \"0x%lx\",\n"
			"     \"regs\": {", i ? "," : "", t->tid, t->flags & CKPT_CTX_XSAVE ? "xsave" : "fxsave",
			t->xsave_size, t->xfeatures);
		for (int r = 0; r < 16; r++)
			fprintf(f, "\"%s\": \"0x%lx\", ", rn[r], v[r]);
		fprintf(f, "\"rip\": \"0x%lx\", \"rflags\": \"0x%lx\", \"fs_base\": \"0x%lx\", "
			"\"gs_base\": \"0x%lx\", \"cs\": \"0x%lx\", \"ss\": \"0x%lx\"},\n     \"blocked\": ",
			t->regs.rip, t->regs.rflags, t->regs.fs_base, t->regs.gs_base, t->regs.cs, t->regs.ss);
		json_sigset(f, t->sigmask);
		fprintf(f, ", \"altstack\": {\"sp\": \"0x%lx\", \"size\": %lu, \"flags\": %u},\n"
			"     \"rseq\": {\"addr\": \"0x%lx\", \"len\": %u, \"sig\": \"0x%x\"}, "
			"\"clear_child_tid\": \"0x%lx\", \"robust_list\": \"0x%lx\", \"robust_len\": %lu}",
			t->ss_sp, t->ss_size, t->ss_flags, t->rseq_addr, t->rseq_len, t->rseq_sig,
			t->clear_child_tid, t->robust_list, t->robust_len);
	}
	fputs("\n  ],\n", f);
}

/* comm, cwd, exe, the memory layout's addresses, the signals not at their default */
static void json_process(FILE *f, const struct img *img)
{
	const struct ckpt_proc *p = img->proc;

	fputs("  \"process\": {\"comm\": ", f);
	json_str(f, p->comm);
	fprintf(f, ", \"umask\": \"%03o\", \"cwd\": ", p->umask);
	json_str(f, img_str(img, p->cwd_off));
	fputs(", \"exe\": ", f);
	json_str(f, img_str(img, p->exe_off));
	fprintf(f, ",\n    \"start_code\": \"0x%lx\", \"end_code\": \"0x%lx\", \"start_data\": \"0x%lx\", "
		"\"end_data\": \"0x%lx\",\n    \"start_brk\": \"0x%lx\", \"brk\": \"0x%lx\", "
		"\"start_stack\": \"0x%lx\", \"arg_start\": \"0x%lx\", \"arg_end\": \"0x%lx\",\n"
		"    \"env_start\": \"0x%lx\", \"env_end\": \"0x%lx\", \"auxv_words\": %u,\n"
		"    \"signals\": [", p->start_code, p->end_code, p->start_data, p->end_data, p->start_brk,
		p->brk, p->start_stack, p->arg_start, p->arg_end, p->env_start, p->env_end, p->auxv_words);
	for (int s = 1, first = 1; s <= CKPT_NSIG; s++) {
		const struct ckpt_sigaction *sa = &p->sigact[s - 1];

		if (!sa->handler)
			continue;
		fprintf(f, "%s\n      {\"signal\": %d, \"name\": \"%s\", \"action\": \"%s\", \"handler\": \"0x%lx\", "
			"\"flags\": \"0x%lx\", \"mask\": \"0x%lx\"}", first ? "" : ",", s,
			s < 32 && sig_abbrev[s] ? sig_abbrev[s] : "", sa->handler == 1 ? "ignore" : "handler",
			sa->handler, sa->flags, sa->mask);
		first = 0;
	}
	fputs("]},\n", f);
}

static void json_regions(FILE *f, const struct img *img)
{
	fprintf(f, "  \"runs\": %u,\n  \"regions\": [", img->hdr.nruns);
	for (uint32_t i = 0; i < img->hdr.nvmas; i++) {
		const struct ckpt_vma *v = &img->vmas[i];

		fprintf(f, "%s\n    {\"start\": \"0x%lx\", \"end\": \"0x%lx\", \"size\": %lu, \"perm\": \"%c%c%c%c\", "
			"\"kind\": \"%s\", \"path\": ", i ? "," : "", v->start, v->end, v->end - v->start,
			v->prot & 1 ? 'r' : '-', v->prot & 2 ? 'w' : '-', v->prot & 4 ? 'x' : '-',
			v->flags & CKPT_MAP_SHARED ? 's' : 'p', img_kind_name(v->kind));
		json_str(f, img_str(img, v->path_off));
		fputs(", \"name\": ", f);
		json_str(f, img_str(img, v->name_off));
		fprintf(f, ", \"pgoff\": %lu, \"flags\": \"0x%x\", \"advice\": \"0x%x\", \"pkey\": %d, "
			"\"pages_stored\": %lu, \"runs\": %u}", v->pgoff, v->flags, v->advice, v->pkey,
			v->pages_stored, v->run_count);
	}
	fputs("\n  ],\n", f);
}

static void json_fds(FILE *f, const struct img *img)
{
	static const char *const fd_kinds[CKPT_FD_KIND_MAX] = {
		[CKPT_FD_REG] = "file", [CKPT_FD_DIR] = "dir", [CKPT_FD_PIPE] = "pipe",
		[CKPT_FD_FIFO] = "fifo", [CKPT_FD_CHR] = "chr", [CKPT_FD_MEMFD] = "memfd",
		[CKPT_FD_DELETED] = "deleted", [CKPT_FD_EVENTFD] = "eventfd",
		[CKPT_FD_TIMERFD] = "timerfd", [CKPT_FD_SIGNALFD] = "signalfd",
		[CKPT_FD_UNSUPPORTED] = "unsupported", [CKPT_FD_EPOLL] = "epoll", [CKPT_FD_SOCKET] = "socket",
		[CKPT_FD_UNIX_PAIR] = "unix-pair", [CKPT_FD_INOTIFY] = "inotify", [CKPT_FD_PIDFD] = "pidfd",
		[CKPT_FD_NETLINK] = "netlink", [CKPT_FD_PTY] = "pty",
		[CKPT_FD_FANOTIFY] = "fanotify", [CKPT_FD_USERFAULTFD] = "userfaultfd",
	};
	struct ckpt_tty t;

	fputs("  \"fds\": [", f);
	for (uint32_t i = 0; i < img->hdr.nfds; i++) {
		const struct ckpt_fd *d = &img->fds[i];
		const char *k = d->kind < CKPT_FD_KIND_MAX && fd_kinds[d->kind] ? fd_kinds[d->kind] : "?";

		fprintf(f, "%s\n    {\"fd\": %d, \"kind\": \"%s\", \"flags\": \"0x%x\", \"cloexec\": %s, "
			"\"pos\": %lu, \"stored\": %lu, \"path\": ", i ? "," : "", d->fd, k, d->flags,
			d->fd_flags & CKPT_FD_CLOEXEC ? "true" : "false", d->pos, d->data_len);
		json_str(f, img_str(img, d->path_off));
		if (d->kind == CKPT_FD_PTY)
			fprintf(f, ", \"pty\": {\"side\": \"%s\", \"number\": %lu, \"locked\": %s, \"packet\": %s, "
				"\"queued_lost\": %lu}", d->aux[0] == CKPT_PTY_MASTER ? "master" : "slave", d->aux[1],
				d->aux[2] & CKPT_PTY_LOCKED ? "true" : "false", d->aux[2] & CKPT_PTY_PACKET ? "true" : "false",
				d->aux[3]);
		if ((d->kind == CKPT_FD_CHR || d->kind == CKPT_FD_PTY) && d->data_len == sizeof(t) &&
		    pread(img->fd, &t, sizeof(t), (off_t)d->data_off) == sizeof(t))
			fprintf(f, ", \"terminal\": {\"lflag\": %u, \"iflag\": %u, \"oflag\": %u, \"cflag\": %u, "
				"\"rows\": %u, \"cols\": %u, \"controlling\": %s, \"foreground\": %s}", t.lflag, t.iflag,
				t.oflag, t.cflag, t.rows, t.cols, t.flags & CKPT_TTY_CTTY ? "true" : "false",
				t.flags & CKPT_TTY_FOREGROUND ? "true" : "false");
		fputc('}', f);
	}
	fputs("\n  ],\n", f);
}

/* the file locks and leases the restorer takes again */
static void json_locks(FILE *f, const struct img *img)
{
	fputs("  \"locks\": [", f);
	for (uint32_t i = 0; i < img->hdr.nlocks; i++) {
		const struct ckpt_lock *l = &img->locks[i];

		fprintf(f, "%s\n    {\"fd\": %d, \"lock\": \"%s\", \"start\": %ld, \"len\": %ld, \"signal\": %d}",
			i ? "," : "", img->fds[l->fd_index].fd, img_lock_name(l), l->start, l->len, l->sig);
	}
	fputs(img->hdr.nlocks ? "\n  ],\n" : "],\n", f);
}

/* pending signals and POSIX timers, and the closing brace */
static void json_pending_and_timers(FILE *f, const struct img *img)
{
	fputs("  \"pending_signals\": [", f);
	for (uint32_t i = 0; i < img->hdr.nsigs; i++)
		fprintf(f, "%s{\"signal\": %u, \"shared\": %s}", i ? ", " : "", img->sigs[i].signo,
			img->sigs[i].shared ? "true" : "false");
	fputs("],\n  \"timers\": [", f);
	for (uint32_t i = 0; i < img->hdr.ntimers; i++) {
		const struct ckpt_timer *t = &img->timers[i];

		fprintf(f, "%s\n    {\"id\": %d, \"clockid\": %d, \"signal\": %d, \"interval_ns\": %ld, "
			"\"remaining_ns\": %ld}", i ? "," : "", t->id, t->clockid, t->signo,
			t->interval_sec * 1000000000l + t->interval_nsec, t->value_sec * 1000000000l + t->value_nsec);
	}
	fputs("]\n}\n", f);
}

/* `ckpt info --json`: the image as one JSON object on stdout */
/* a job's table: its processes (each image described by `ckpt info --json`
 * of its path) and what they share */
static int info_job_json(const char *path)
{
	struct img_job j;
	struct img_err err;
	char member[IMG_PATH_MAX];
	FILE *f = stdout;

	if (img_job_open(&j, path, &err)) {
		say("%s: %s", esc(path), err.msg);
		img_job_close(&j);
		return EX_USAGE;
	}
	fputs("{\n  \"path\": ", f);
	json_str(f, path);
	fprintf(f, ",\n  \"job_format_version\": %u,\n  \"file_size\": %lu,\n  \"created_ns\": %lu,\n"
		"  \"job_id\": \"", j.hdr.version, j.hdr.file_size, j.hdr.created_ns);
	for (int i = 0; i < 16; i++)
		fprintf(f, "%02x", j.hdr.job_id[i]);
	fputs("\",\n  \"processes\": [", f);
	for (uint32_t i = 0; i < j.hdr.nprocs; i++) {
		const struct ckpt_job_proc *p = &j.procs[i];

		fprintf(f, "%s\n    { \"pid\": %d, \"parent_pid\": %d, \"pgid\": %d, \"sid\": %d, \"name\": ",
			i ? "," : "", p->pid, p->parent >= 0 ? j.procs[p->parent].pid : 0, p->pgid, p->sid);
		json_str(f, p->comm);
		if (p->state == CKPT_JOB_ZOMBIE)
			fprintf(f, ", \"state\": \"zombie\", \"wait_status\": %d }", p->status);
		else {
			fputs(", \"state\": \"live\", \"image\": ", f);
			img_job_member_path(path, p, member, sizeof(member));
			json_str(f, member);
			fputs(" }", f);
		}
	}
	fputs("\n  ],\n  \"shared\": [", f);
	for (uint32_t k = 0; k < j.hdr.nobjs; k++) {
		const struct ckpt_job_obj *o = &j.objs[k];
		int n = 0;

		fprintf(f, "%s\n    { \"kind\": \"%s\", \"owner_pid\": %d, ", k ? "," : "",
			o->kind == CKPT_JOB_PIPE ? "pipe" : o->kind == CKPT_JOB_UNIX_PAIR ? "unix_pair" :
			o->kind == CKPT_JOB_SHM ? "shared_memory" : "file", j.procs[o->owner].pid);
		if (o->kind == CKPT_JOB_SHM) {
			const struct ckpt_job_shm *m = (const struct ckpt_job_shm *)(j.base + o->data_off);
			const struct ckpt_job_shm_map *p = (const struct ckpt_job_shm_map *)(m + 1);

			fprintf(f, "\"bytes\": %lu, \"pages_stored\": %lu, \"file\": ", m->size, m->stored);
			json_str(f, m->file);
			fputs(", \"maps\": [", f);
			for (uint32_t i = 0; i < m->nmaps; i++)
				fprintf(f, "%s{ \"pid\": %d, \"start\": %lu, \"end\": %lu, \"offset\": %lu }",
					i ? ", " : "", j.procs[p[i].proc].pid, p[i].start, p[i].end, p[i].offset);
			fputs("] }", f);
			continue;
		}
		if (o->kind == CKPT_JOB_PIPE)
			fprintf(f, "\"bytes\": %lu, ", o->data_len);
		else if (o->kind == CKPT_JOB_UNIX_PAIR)
			fprintf(f, "\"type\": %u, \"queued\": [%u, %lu], ", o->pipe_size, o->split,
				o->data_len - o->split);
		else
			fprintf(f, "\"owner_fd\": %d, ", o->owner_fd);
		fputs("\"holders\": [", f);
		for (uint32_t r = 0; r < j.hdr.nrefs; r++)
			if (j.refs[r].obj == k)
				fprintf(f, "%s{ \"pid\": %d, \"fd\": %d%s }", n++ ? ", " : "",
					j.procs[j.refs[r].proc].pid, j.refs[r].fd,
					o->kind == CKPT_JOB_FILE ? "" :
					o->kind == CKPT_JOB_UNIX_PAIR ? (j.refs[r].end ? ", \"end\": 1" : ", \"end\": 0") :
					j.refs[r].end ? ", \"end\": \"write\"" : ", \"end\": \"read\"");
		fputs("] }", f);
	}
	fputs("\n  ]\n}\n", f);
	img_job_close(&j);
	if (fflush(f) || ferror(f)) {
		say("writing the JSON: %s", strerror(errno));
		return EX_FAIL;
	}
	return EX_OK;
}

static int info_json(const char *path)
{
	struct img img;
	struct img_err err;
	FILE *f = stdout;

	if (img_open(&img, path, 0, &err)) {
		say("%s: %s", esc(path), err.msg);	/* msg: escaped already */
		return EX_USAGE;
	}
	json_header(f, &img, path);
	json_threads(f, &img);
	json_process(f, &img);
	json_regions(f, &img);
	json_fds(f, &img);
	json_locks(f, &img);
	json_pending_and_timers(f, &img);
	if (fflush(f) || ferror(f)) {
		say("writing the JSON: %s", strerror(errno));
		return EX_FAIL;
	}
	return EX_OK;
}

int cmd_info(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, 0, 'j' }, { "help", no_argument, 0, 'h' },
		{ "version", no_argument, 0, 'V' }, { 0, 0, 0, 0 },
	};
	const char *path = "myckpt";
	char rdr[PATH_MAX], arg[PATH_MAX + 2];
	int c, json = 0;

	while ((c = next_opt(argc, argv, ":hV", opts)) != -1) {
		switch (c) {
		case 'j': json = 1; break;
		case 'h': help(info_help);
		case 'V': version();
		}
	}
	if (optind + 1 < argc)
		usage_error("one IMAGE only ('%s' is extra)", argv[optind + 1]);
	if (optind < argc)
		path = argv[optind];
	img_unpack_pages = 0;		/* a compressed image: no page data is shown */
	if (json)
		return img_job_is(path) ? info_job_json(path) : info_json(path);
	if (find_helper("readckpt", rdr, sizeof(rdr)))
		return EX_FAIL;
	/* readckpt takes no "--": keep a leading '-' from reading as an option */
	snprintf(arg, sizeof(arg), "%s%s", path[0] == '-' ? "./" : "", path);
	execl(rdr, rdr, arg, (char *)NULL);
	say("cannot run %s: %s", rdr, strerror(errno));
	return EX_FAIL;
}
