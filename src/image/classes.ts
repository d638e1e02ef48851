// The driver classes an image can ask for by name (`modload mkinitramfs --modules storage,...`),
// as data. Each class is a list of module path patterns with exclusions, in the spirit of
// initramfs-tools' auto_add_modules, dracut's instmods "=drivers/..." lists and mkinitcpio's
// block/keyboard hooks: a path under the modules directory, `kernel/` and the `.ko[.xz|.zst|.gz]`
// suffix left off, matched with fnmatch ('*' crosses '/'); a pattern ending in '/' stands for
// everything under that directory. Out-of-tree modules (extra/, updates/) match with their own
// prefix: `updates/dkms/` is a valid pattern.
//
// A class says what a machine of that kind MAY need, not what it has: the host selector answers
// that. Classes exist for hardware that is not there when the image is built (a USB keyboard
// plugged in later, a disk moved to another controller) and for generic images.

export interface DriverClass {
  description: string
  include: readonly string[]
  exclude?: readonly string[]
}

export const DRIVER_CLASSES: Readonly<Record<string, DriverClass>> = {
  storage: {
    description: 'disk controllers and their transports: ATA/AHCI, SCSI HBAs and RAID, NVMe, virtio, USB mass storage, MMC/SD, device-mapper and md',
    include: [
      'drivers/ata/',
      'drivers/scsi/',
      'drivers/message/fusion/',
      'drivers/nvme/host/',
      'drivers/block/',
      'drivers/md/',
      'drivers/usb/storage/',
      'drivers/mmc/',
      'drivers/memstick/',
      'drivers/firewire/firewire-sbp2',
      'drivers/firewire/firewire-ohci',
      'drivers/cdrom/',
      'drivers/virtio/',
      'drivers/vdpa/virtio_vdpa',
    ],
    // tapes, changers, media changers, SCSI targets, iSCSI/FC initiators' user tools and block
    // devices that never hold a root
    exclude: [
      'drivers/scsi/st',
      'drivers/scsi/ch',
      'drivers/scsi/osst',
      'drivers/scsi/pcmcia/',
      'drivers/ata/pata_pcmcia',
      'drivers/block/floppy',
      'drivers/block/drbd/',
      'drivers/block/rnbd/',
      'drivers/block/pktcdvd',
      'drivers/block/zram/',
      'drivers/md/dm-log-userspace',
      'drivers/md/dm-zoned',
    ],
  },
  nvme: {
    description: 'NVMe disks (PCIe, and NVMe over fabrics initiators)',
    include: ['drivers/nvme/host/', 'drivers/nvme/common/'],
  },
  mmc: {
    description: 'SD/MMC and memory-stick host controllers and cards',
    include: ['drivers/mmc/', 'drivers/memstick/'],
    exclude: ['drivers/mmc/core/sdio_uart'],
  },
  'usb-host': {
    description: 'USB host controllers (xHCI, EHCI, OHCI, UHCI, embedded controllers) and the USB core, so any USB device can enumerate',
    include: ['drivers/usb/core/', 'drivers/usb/common/', 'drivers/usb/host/', 'drivers/usb/c67x00/', 'drivers/usb/dwc2/', 'drivers/usb/dwc3/', 'drivers/usb/chipidea/', 'drivers/usb/musb/', 'drivers/usb/isp1760/', 'drivers/usb/typec/'],
    // PCMCIA cards and the ISA-era controllers mkinitcpio leaves out too
    exclude: ['drivers/usb/host/*_cs', 'drivers/usb/host/sl811*', 'drivers/usb/host/isp116x*'],
  },
  input: {
    description: 'keyboards: HID (USB, I2C, Bluetooth-less), PS/2 and serial input, so a passphrase or rescue shell can be typed',
    include: ['drivers/hid/', 'drivers/input/keyboard/', 'drivers/input/serio/', 'drivers/input/input-leds', 'drivers/input/evdev'],
    // sensor hubs and touch controllers are not keyboards
    exclude: ['drivers/hid/hid-sensor-*', 'drivers/hid/intel-ish-hid/', 'drivers/hid/amd-sfh-hid/', 'drivers/input/serio/*_cs'],
  },
  net: {
    description: 'wired network interfaces (Ethernet, virtio, Hyper-V, Xen, USB Ethernet) and their PHYs, for network roots',
    include: ['drivers/net/ethernet/', 'drivers/net/phy/', 'drivers/net/mdio/', 'drivers/net/pcs/', 'drivers/net/usb/', 'drivers/net/virtio_net', 'drivers/net/net_failover', 'drivers/net/mii', 'drivers/net/mdio', 'drivers/net/hyperv/', 'drivers/net/xen-netfront', 'drivers/net/vmxnet3/', 'drivers/net/bonding/', 'drivers/net/team/', 'net/core/failover', 'net/8021q/', 'net/packet/'],
    exclude: ['drivers/net/ethernet/*/*_cs', 'drivers/net/usb/*_cdc_mbim', 'drivers/net/usb/qmi_wwan*'],
  },
  fs: {
    description: 'filesystems a root or /usr can be on, with the code pages vfat needs',
    include: ['fs/ext4/', 'fs/jbd2/', 'fs/mbcache', 'fs/xfs/', 'fs/btrfs/', 'fs/f2fs/', 'fs/fat/', 'fs/exfat/', 'fs/squashfs/', 'fs/overlayfs/', 'fs/isofs/', 'fs/udf/', 'fs/erofs/', 'fs/jfs/', 'fs/nfs/', 'fs/nfs_common/', 'fs/lockd/', 'fs/fuse/', 'fs/nls/nls_cp437', 'fs/nls/nls_iso8859-1', 'fs/nls/nls_utf8', 'fs/nls/nls_ascii', 'lib/libcrc32c', 'crypto/crc32c_generic'],
  },
  crypto: {
    description: 'encrypted roots: dm-crypt and dm-integrity with the kernel crypto algorithms and accelerators they use',
    include: ['drivers/md/dm-crypt', 'drivers/md/dm-integrity', 'crypto/', 'arch/x86/crypto/', 'drivers/crypto/', 'drivers/char/tpm/', 'lib/crypto/'],
    exclude: ['crypto/async_tx/', 'crypto/tcrypt'],
  },
  virt: {
    description: 'paravirtual devices of hypervisors: virtio (PCI, MMIO), Hyper-V, Xen, VMware',
    include: ['drivers/virtio/', 'drivers/block/virtio_blk', 'drivers/scsi/virtio_scsi', 'drivers/net/virtio_net', 'drivers/net/net_failover', 'net/core/failover', 'drivers/char/hw_random/virtio-rng', 'drivers/char/virtio_console', 'drivers/gpu/drm/virtio/', 'drivers/hv/', 'drivers/scsi/hv_storvsc', 'drivers/net/hyperv/', 'drivers/hid/hid-hyperv', 'drivers/input/serio/hyperv-keyboard', 'drivers/xen/', 'drivers/block/xen-blkfront', 'drivers/net/xen-netfront', 'drivers/input/misc/xen-kbdfront', 'drivers/scsi/vmw_pvscsi', 'drivers/net/vmxnet3/', 'drivers/misc/vmw_balloon', 'fs/fuse/virtiofs', 'net/9p/', 'fs/9p/'],
    exclude: ['drivers/xen/xen-*back*', 'drivers/net/xen-netback/'],
  },
}

export const CLASS_NAMES: readonly string[] = Object.keys(DRIVER_CLASSES)

/** The classes added when no selector is given: with `host`, a keyboard plugged in later works. */
export const DEFAULT_SELECTORS: readonly string[] = ['host', 'usb-host', 'input']

/**
 * What the host selector leaves to the root's own loader although the machine has the device:
 * kinds of driver no boot waits for (no root, no passphrase prompt, no network root goes
 * through them), several of which bring large firmware (Wi-Fi, Bluetooth, sound DSPs) or slow
 * inits (a sound codec probe, a sensor scan). initramfs-tools and dracut leave them out of
 * their images too. The processor-feature modules (select.ts isCpuModalias) are the other
 * part of what is left. `host-all` takes everything the machine's devices match.
 */
export const LATE_CLASSES: Readonly<Record<string, DriverClass>> = {
  sound: { description: 'sound cards and codecs', include: ['sound/'] },
  wireless: { description: 'Wi-Fi and Bluetooth', include: ['drivers/net/wireless/', 'net/wireless/', 'net/mac80211/', 'drivers/bluetooth/', 'net/bluetooth/'] },
  media: { description: 'cameras, TV and radio tuners', include: ['drivers/media/'] },
  watchdog: { description: 'hardware watchdogs (loading one starts nothing; the root\'s watchdog daemon opens it)', include: ['drivers/watchdog/'] },
  sensors: { description: 'hardware monitoring and industrial I/O sensors', include: ['drivers/hwmon/', 'drivers/iio/'] },
  edac: { description: 'memory error reporting', include: ['drivers/edac/'] },
  beeper: { description: 'the PC speaker', include: ['drivers/input/misc/pcspkr'] },
}
