// SPDX-License-Identifier: GPL-2.0
/* Test module for modload's scheduling: init sleeps `ms` milliseconds, then succeeds. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/delay.h>
#include <linux/module.h>

static unsigned int ms = 3000;
module_param(ms, uint, 0444);
MODULE_PARM_DESC(ms, "milliseconds init sleeps (default 3000)");

static int __init modload_sleep_init(void)
{
	pr_info("sleeping %u ms\n", ms);
	msleep(ms);
	pr_info("slept %u ms\n", ms);
	return 0;
}

static void __exit modload_sleep_exit(void)
{
}

module_init(modload_sleep_init);
module_exit(modload_sleep_exit);
MODULE_DESCRIPTION("modload test: init sleeps");
MODULE_LICENSE("GPL");
