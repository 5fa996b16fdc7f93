; onstack.asm -- call a function on another stack, for libckpt's trigger handler.
;
; void cap_call_on_stack(void (*fn)(void *), void *arg, void *top);
;
; The trigger handler runs on whatever stack the interrupted thread had (a Go
; goroutine's 8 KiB, or Go's 32 KiB signal stack): the checkpoint itself,
; some 34 KiB deep, runs on a stack of libckpt's own, ending at top.
;  IN: rdi = fn, rsi = arg, rdx = top (16-byte aligned, the stack's end)
; OUT: nothing; rbx, rbp, r12-r15 kept (SysV), the caller's rsp restored
; A checkpoint taken inside fn records this frame; a restored process comes
; back through it onto the interrupted stack, which the image holds too.

	default rel
	section .text

	global cap_call_on_stack:function hidden (cap_call_on_stack.end - cap_call_on_stack)
cap_call_on_stack:
	push	rbp			; rbp = the caller's rsp, kept across the call
	mov	rbp, rsp
	mov	rax, rdi		; rax = fn
	mov	rdi, rsi		; rdi = arg, fn's first argument
	mov	rsp, rdx		; rsp = top: 16-byte aligned before the call
	call	rax			; fn(arg) on the new stack
	mov	rsp, rbp		; back on the caller's stack
	pop	rbp
	ret
.end:

	section .note.GNU-stack noalloc noexec nowrite progbits
