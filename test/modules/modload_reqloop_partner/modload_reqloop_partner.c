// SPDX-License-Identifier: GPL-2.0
/* The partner of modload_reqloop: its init requests modload_reqloop back (request_module),
 * closing the loop. Init succeeds whatever the request returned. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kmod.h>
#include <linux/module.h>

static int __init modload_reqloop_partner_init(void)
{
	int err;

	pr_info("requesting modload_reqloop\n");
	err = request_module("modload_reqloop");
	pr_info("request_module(modload_reqloop) returned %d\n", err);
	return 0;
}

static void __exit modload_reqloop_partner_exit(void)
{
}

module_init(modload_reqloop_partner_init);
module_exit(modload_reqloop_partner_exit);
MODULE_DESCRIPTION("modload test: init requests modload_reqloop (the other half of a loop)");
MODULE_LICENSE("GPL");
