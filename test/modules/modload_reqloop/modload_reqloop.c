// SPDX-License-Identifier: GPL-2.0
/* Test module for modload's handling of the kernel's module requests: init asks for
 * modload_reqloop_partner (request_module), whose own init asks for this module back: a loop.
 * kmod's modprobe answers the second request at once, because this module is already
 * "coming" in /sys/module; a loader that tries finit_module again waits for this init, which
 * waits for the partner: a deadlock. Init succeeds whatever the request returned. */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kmod.h>
#include <linux/module.h>

static int __init modload_reqloop_init(void)
{
	int err;

	pr_info("requesting modload_reqloop_partner\n");
	err = request_module("modload_reqloop_partner");
	pr_info("request_module(modload_reqloop_partner) returned %d\n", err);
	return 0;
}

static void __exit modload_reqloop_exit(void)
{
}

module_init(modload_reqloop_init);
module_exit(modload_reqloop_exit);
MODULE_DESCRIPTION("modload test: init requests a module that requests this one back");
MODULE_LICENSE("GPL");
