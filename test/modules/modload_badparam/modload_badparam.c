// SPDX-License-Identifier: GPL-2.0
/*
 * Test module for modload's parameter errors: an int parameter; loading with count=abc fails
 * with -EINVAL before init runs ("modload_badparam: `abc' invalid for parameter `count'").
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>

static int count;
module_param(count, int, 0444);
MODULE_PARM_DESC(count, "an integer; anything else makes the load fail");

static int __init modload_badparam_init(void)
{
	pr_info("loaded with count=%d\n", count);
	return 0;
}

static void __exit modload_badparam_exit(void)
{
}

module_init(modload_badparam_init);
module_exit(modload_badparam_exit);
MODULE_DESCRIPTION("modload test: an int parameter");
MODULE_LICENSE("GPL");
