// SPDX-License-Identifier: GPL-2.0
/*
 * Test module for modload's firmware handling: asks the kernel for modload-test/fw.bin at
 * init, as a driver would, and says what it got. The QEMU test reads this line:
 *   modload_fwtest: firmware loaded size=N first=HEX   (up to the first 8 bytes)
 *   modload_fwtest: firmware modload-test/fw.bin failed error=-N   (and init fails with it)
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/firmware.h>
#include <linux/minmax.h>
#include <linux/module.h>
#include <linux/platform_device.h>

#define FW_NAME "modload-test/fw.bin"

static struct platform_device *pdev;

static int __init modload_fwtest_init(void)
{
	const struct firmware *fw;
	int ret;

	/* request_firmware wants a device: its name shows in the kernel's own messages */
	pdev = platform_device_register_simple("modload_fwtest", -1, NULL, 0);
	if (IS_ERR(pdev))
		return PTR_ERR(pdev);

	ret = request_firmware(&fw, FW_NAME, &pdev->dev);
	if (ret) {
		pr_info("firmware %s failed error=%d\n", FW_NAME, ret);
		platform_device_unregister(pdev);
		return ret;
	}
	pr_info("firmware loaded size=%zu first=%*phN\n", fw->size, (int)min_t(size_t, fw->size, 8), fw->data);
	release_firmware(fw);
	return 0;
}

static void __exit modload_fwtest_exit(void)
{
	platform_device_unregister(pdev);
}

module_init(modload_fwtest_init);
module_exit(modload_fwtest_exit);
MODULE_FIRMWARE(FW_NAME);
MODULE_DESCRIPTION("modload test: loads a firmware file at init");
MODULE_LICENSE("GPL");
