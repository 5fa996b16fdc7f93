; syscall.asm -- the one place that executes `syscall`, for capture and restorer alike.
;
; long ckpt_raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5, long a6);
;
; SysV call:   rdi=nr  rsi=a1  rdx=a2  rcx=a3  r8=a4  r9=a5  [rsp+8]=a6
; Linux ABI:   rax=nr  rdi=a1  rsi=a2  rdx=a3  r10=a4 r8=a5  r9=a6
;              the kernel clobbers rcx (return rip) and r11 (rflags)
; Returns rax: the result, or -errno in [-4095, -1].  No errno variable is touched.

	default rel
	section .text

; ----------------------------------------------------------------
; ckpt_raw_syscall -- shift SysV arguments into syscall registers, trap
;  IN: rdi = number, rsi, rdx, rcx, r8, r9, [rsp+8] = arguments 1..6
; OUT: rax = result or -errno; rcx, r11 clobbered (caller-saved anyway)
	global ckpt_raw_syscall:function hidden (ckpt_raw_syscall.end - ckpt_raw_syscall)
ckpt_raw_syscall:
	mov	rax, rdi		; rax = syscall number
	mov	rdi, rsi		; arg1
	mov	rsi, rdx		; arg2
	mov	rdx, rcx		; arg3
	mov	r10, r8			; arg4 (r10: rcx is taken by the return rip)
	mov	r8, r9			; arg5
	mov	r9, [rsp+8]		; arg6 from the caller's stack
	syscall				; rcx = rip, r11 = rflags on the way back
	ret
.end:

	section .note.GNU-stack noalloc noexec nowrite progbits
