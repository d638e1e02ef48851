// SPDX-License-Identifier: GPL-2.0
/* Test module for modload's failure reporting: init fails with -EIO. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/errno.h>
#include <linux/module.h>

static int __init modload_fail_init(void)
{
	pr_info("failing with -EIO\n");
	return -EIO;
}

module_init(modload_fail_init);
MODULE_DESCRIPTION("modload test: init returns -EIO");
MODULE_LICENSE("GPL");
