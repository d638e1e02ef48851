// SPDX-License-Identifier: GPL-2.0
/*
 * Test module for modload's "Unknown symbol" reporting: it calls a function nobody exports, so
 * the kernel refuses it with -ENOENT. modpost would stop the build; the Makefile passes
 * KBUILD_MODPOST_WARN=1 so it only warns.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

extern int modload_no_such_symbol(void);

static int __init modload_unknown_symbol_init(void)
{
	return modload_no_such_symbol();
}

module_init(modload_unknown_symbol_init);
MODULE_DESCRIPTION("modload test: needs a symbol nobody exports");
MODULE_LICENSE("GPL");
