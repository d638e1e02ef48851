// SPDX-License-Identifier: GPL-2.0
/*
 * Test module for modload's handling of a crashing driver: init dereferences NULL, which
 * oopses and kills the task that called finit_module (the kernel goes on unless panic_on_oops).
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

/* volatile: the compiler may neither fold the load away nor turn it into a trap */
static int *volatile nowhere;

static int __init modload_oops_init(void)
{
	pr_info("dereferencing NULL\n");
	return *nowhere;
}

module_init(modload_oops_init);
MODULE_DESCRIPTION("modload test: init oopses");
MODULE_LICENSE("GPL");
