; entry.asm -- the restorer's _start and its private stack.
;
; The kernel enters with rsp -> argc, argv[], NULL, envp[], NULL, auxv pairs.
; That stack lies where the image may want its own [stack]; the restorer moves to
; a stack in its own .bss (inside its fixed zone) before running any C.
; There is no libc: nothing to initialise, nothing may run before rst_main.

	default rel

	section .text.entry progbits alloc exec nowrite align=16

; ----------------------------------------------------------------
; _start -- switch to the restorer stack, call rst_main(initial_sp)
;  IN: rsp = the kernel's initial process stack
; OUT: does not return (rst_main ends in exit_group or rst_jump)
	global _start:function (_start.end - _start)
	extern rst_main
_start:
	mov	rdi, rsp			; rdi = &argc: argv, envp, auxv follow
	lea	rsp, [rel rst_stack_top]	; own stack, 16-aligned, in .bss
	xor	ebp, ebp			; outermost frame
	call	rst_main			; never returns
	hlt					; trap if it ever does
.end:

	section .bss
	alignb	64
	global rst_stack:data (rst_stack_top - rst_stack)
rst_stack:
	resb	65536				; 64 KiB: rst_main's deepest path needs < 16 KiB
rst_stack_top:

	section .note.GNU-stack noalloc noexec nowrite progbits
