// SPDX-License-Identifier: GPL-2.0
/*
 * Test module for modload's hung-load detection: init waits for a completion nobody signals.
 * It waits in one-second slices, killable, so the hung-task watchdog stays quiet, a SIGKILL
 * to the loading process ends it (init then fails with -EINTR) and the machine still powers off.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/completion.h>
#include <linux/errno.h>
#include <linux/jiffies.h>
#include <linux/module.h>

static DECLARE_COMPLETION(never);

static int __init modload_hang_init(void)
{
	pr_info("waiting for a completion that never comes\n");
	for (;;) {
		long r = wait_for_completion_killable_timeout(&never, HZ);

		if (r < 0) {
			pr_info("killed while waiting\n");
			return -EINTR;
		}
		if (r > 0)
			return 0;
	}
}

module_init(modload_hang_init);
MODULE_DESCRIPTION("modload test: init never returns unless killed");
MODULE_LICENSE("GPL");
