// The named QEMU machines (device sets) the integration tests boot, as data. A test says
// "boot on q35" and asserts on what a loader made of exactly these devices, so each machine
// lists every device it has: QEMU runs with -nodefaults, nothing is added behind our back.
// To add a machine, add an entry; boot.ts turns it into a command line.

/** A disk: boot.ts creates a sparse raw file of sizeMiB (unless the caller supplies one) and
 * attaches it as `-drive if=none,id=<id>` + `-device <device>,drive=<id>`. */
export interface DiskSpec {
  id: string;
  sizeMiB: number;
  /** The -device value without `drive=`, e.g. 'virtio-blk-pci' or 'ide-hd,bus=ahci0.0'. */
  device: string;
  /** Persistent memory (nvdimm, virtio-pmem-pci): the file backs the device's memory
   * (`-object memory-backend-file` + `memdev=`), its size the file's (whole 2 MiB); the guest sees a pmem
   * block device. The machine needs memOptions with room for it. */
  memory?: boolean;
}

export interface Machine {
  name: string;
  description: string;
  /** QEMU -machine type. */
  type: 'pc' | 'q35' | 'microvm';
  /** -machine properties after the type (`acpi=on,...`). */
  options?: string;
  /** Why QEMU cannot boot this machine with -icount (boot.ts refuses to, naming it). */
  noIcount?: string;
  /** No clock to calibrate the TSC against but the PIT (no HPET, no ACPI PM timer): under TCG
   * that calibration fails now and then and the kernel hangs, so boot.ts gives the TSC's rate. */
  noTscReference?: boolean;
  /** -device, -netdev, ... arguments, in order; disks are appended after them. */
  args: readonly string[];
  disks: readonly DiskSpec[];
  /** Guest RAM; default 1024. */
  memMiB?: number;
  /** More -m properties (`slots=4,maxmem=8G`: room for NVDIMMs and other plugged memory). */
  memOptions?: string;
}

// `restrict=on`: the guest gets a NIC with a link but cannot reach the host's network.
const userNet = (id: string) => ['-netdev', `user,id=${id},restrict=on`];

export const machines: Readonly<Record<string, Machine>> = {
  virtio: {
    name: 'virtio',
    description: 'pc with paravirtual devices: virtio-net, virtio-blk, virtio-rng',
    type: 'pc',
    args: [...userNet('n0'), '-device', 'virtio-net-pci,netdev=n0', '-device', 'virtio-rng-pci'],
    disks: [{ id: 'vd0', sizeMiB: 16, device: 'virtio-blk-pci' }],
  },
  'legacy-pc': {
    name: 'legacy-pc',
    description: 'pc with emulated hardware: e1000, rtl8139, AHCI disk, USB keyboard+tablet on xHCI, HDA audio, std VGA',
    type: 'pc',
    args: [
      '-device', 'VGA',
      ...userNet('n0'), '-device', 'e1000,netdev=n0',
      ...userNet('n1'), '-device', 'rtl8139,netdev=n1',
      '-device', 'ahci,id=ahci0',
      '-device', 'qemu-xhci,id=xhci0',
      '-device', 'usb-kbd,bus=xhci0.0',
      '-device', 'usb-tablet,bus=xhci0.0',
      '-audiodev', 'none,id=snd0',
      '-device', 'intel-hda,id=hda0',
      '-device', 'hda-duplex,bus=hda0.0,audiodev=snd0',
    ],
    disks: [{ id: 'sda', sizeMiB: 16, device: 'ide-hd,bus=ahci0.0' }],
  },
  q35: {
    name: 'q35',
    description: 'q35 (ICH9, PCIe) with NVMe, e1000e, virtio-gpu, USB mass storage on xHCI, i6300esb watchdog',
    type: 'q35',
    args: [
      ...userNet('n0'), '-device', 'e1000e,netdev=n0',
      '-device', 'virtio-gpu-pci',
      '-device', 'qemu-xhci,id=xhci0',
      // Never armed unless something opens /dev/watchdog; if it fires, -no-reboot ends the run.
      '-device', 'i6300esb',
    ],
    disks: [
      { id: 'nvme0', sizeMiB: 16, device: 'nvme,serial=modload-nvme0' },
      { id: 'usb0', sizeMiB: 16, device: 'usb-storage,bus=xhci0.0' },
    ],
  },
  'hba-mix': {
    name: 'hba-mix',
    description: 'pc with SCSI/RAID host adapters whose drivers scan a bus (LSI 53c895a, MegaRAID SAS, VMware PVSCSI), USB storage behind EHCI, an SD card on SDHCI, pcnet and eepro100 NICs',
    type: 'pc',
    args: [
      ...userNet('n0'), '-device', 'pcnet,netdev=n0',
      ...userNet('n1'), '-device', 'i82559er,netdev=n1',
      '-device', 'lsi53c895a,id=lsi0',
      '-device', 'megasas,id=mega0',
      '-device', 'pvscsi,id=pv0',
      '-device', 'usb-ehci,id=ehci0',
      '-device', 'sdhci-pci,id=sdhci0',
    ],
    disks: [
      { id: 'lsi0d', sizeMiB: 16, device: 'scsi-hd,bus=lsi0.0' },
      { id: 'mega0d', sizeMiB: 16, device: 'scsi-hd,bus=mega0.0' },
      { id: 'pv0d', sizeMiB: 16, device: 'scsi-hd,bus=pv0.0' },
      { id: 'usb0', sizeMiB: 16, device: 'usb-storage,bus=ehci0.0' },
      { id: 'sd0', sizeMiB: 16, device: 'sd-card' },
    ],
  },
  'odd-mix': {
    name: 'odd-mix',
    description: 'pc with less common devices: virtio-scsi (disk + CD-ROM), LSI SAS 1068, AMD Am53c974 SCSI, vmxnet3, ne2k_pci and tulip NICs, USB keyboard, mouse, audio and network behind UHCI and OHCI, ES1370 and AC97 sound, virtio balloon, console and keyboard, pvpanic, Cirrus VGA',
    type: 'pc',
    args: [
      '-device', 'cirrus-vga',
      ...userNet('n0'), '-device', 'vmxnet3,netdev=n0',
      ...userNet('n1'), '-device', 'ne2k_pci,netdev=n1',
      ...userNet('n2'), '-device', 'tulip,netdev=n2',
      '-device', 'virtio-scsi-pci,id=vscsi0',
      '-device', 'mptsas1068,id=mpt0',
      '-device', 'am53c974,id=esp0',
      '-device', 'piix3-usb-uhci,id=uhci0',
      '-device', 'pci-ohci,id=ohci0',
      '-device', 'usb-kbd,bus=uhci0.0',
      '-device', 'usb-mouse,bus=ohci0.0',
      ...userNet('n3'), '-device', 'usb-net,bus=uhci0.0,netdev=n3',
      '-audiodev', 'none,id=snd0',
      // (not usb-serial: QEMU attaches it only once its character device is opened)
      '-device', 'usb-audio,bus=ohci0.0,audiodev=snd0',
      '-device', 'ES1370,audiodev=snd0',
      '-device', 'AC97,audiodev=snd0',
      '-device', 'virtio-balloon-pci',
      '-device', 'virtio-serial-pci', '-chardev', 'null,id=vcon0', '-device', 'virtconsole,chardev=vcon0',
      '-device', 'virtio-keyboard-pci',
      '-device', 'pvpanic',
    ],
    disks: [
      { id: 'vs0d', sizeMiB: 16, device: 'scsi-hd,bus=vscsi0.0' },
      { id: 'vs0cd', sizeMiB: 16, device: 'scsi-cd,bus=vscsi0.0' },
      { id: 'mpt0d', sizeMiB: 16, device: 'scsi-hd,bus=mpt0.0' },
      { id: 'esp0d', sizeMiB: 16, device: 'scsi-hd,bus=esp0.0' },
    ],
  },
  'pcie-mix': {
    name: 'pcie-mix',
    description: 'q35 with devices behind PCIe root ports (modern-only virtio-blk, MegaRAID SAS gen2), a UAS disk on xHCI, ICH9 EHCI with UHCI companions and a hub (Wacom tablet, keyboard), an AHCI CD-ROM, ICH9 HDA, VMware SVGA and Bochs display, virtio tablet and crypto, an IPMI KCS BMC, pvpanic-pci, a 16550 PCI serial card and an Intel 82550 NIC',
    type: 'q35',
    noIcount: 'QEMU 7.2 with -icount hangs before the guest starts when a usb-wacom-tablet is attached (with or without a hub, on xHCI as on EHCI)',
    args: [
      '-device', 'pcie-root-port,id=rp0,chassis=1,slot=1',
      '-device', 'pcie-root-port,id=rp1,chassis=2,slot=2',
      '-device', 'megasas-gen2,id=mg0,bus=rp1',
      ...userNet('n0'), '-device', 'i82550,netdev=n0',
      '-device', 'qemu-xhci,id=xhci0',
      '-device', 'usb-uas,id=uas0,bus=xhci0.0',
      '-device', 'ich9-usb-ehci1,id=ehci,addr=1d.7,multifunction=on',
      '-device', 'ich9-usb-uhci1,masterbus=ehci.0,firstport=0,addr=1d.0,multifunction=on',
      '-device', 'ich9-usb-uhci2,masterbus=ehci.0,firstport=2,addr=1d.1',
      '-device', 'usb-hub,bus=ehci.0,port=1',
      '-device', 'usb-wacom-tablet,bus=ehci.0,port=1.1',
      '-device', 'usb-kbd,bus=ehci.0,port=1.2',
      '-audiodev', 'none,id=snd0',
      '-device', 'ich9-intel-hda,id=hda0',
      '-device', 'hda-output,bus=hda0.0,audiodev=snd0',
      '-device', 'vmware-svga',
      '-device', 'bochs-display',
      '-device', 'virtio-tablet-pci',
      '-object', 'cryptodev-backend-builtin,id=cr0', '-device', 'virtio-crypto-pci,cryptodev=cr0',
      '-device', 'ipmi-bmc-sim,id=bmc0', '-device', 'isa-ipmi-kcs,bmc=bmc0',
      '-device', 'pvpanic-pci',
      '-device', 'pci-serial',
    ],
    disks: [
      { id: 'vd0', sizeMiB: 16, device: 'virtio-blk-pci,bus=rp0,disable-legacy=on' },
      { id: 'mg0d', sizeMiB: 16, device: 'scsi-hd,bus=mg0.0' },
      { id: 'uas0d', sizeMiB: 16, device: 'scsi-hd,bus=uas0.0,scsi-id=0,lun=0' },
      { id: 'cd0', sizeMiB: 16, device: 'ide-cd,bus=ide.1' },
    ],
  },
  'topo-mix': {
    name: 'topo-mix',
    description: 'q35 with a deep PCI topology and device classes whose drivers make buses of their own: a virtio-blk disk behind a PCIe expander bridge (a second host bridge), an NVMe disk behind a PCIe switch, an LSI 53C810 SCSI disk and an RTL8139 NIC behind a PCIe-to-PCI bridge, an ACPI NVDIMM and a virtio-pmem device (persistent-memory block devices: nfit and virtio_pmem make the nd bus, whose regions nd_pmem drives), CTU CAN FD and Kvaser CAN cards, a TEWS TPCI200 IndustryPack carrier with an IP-OCTAL serial module (an ipack bus), QXL and ATI Rage 128 display, a VM generation ID',
    type: 'q35',
    options: 'nvdimm=on',
    memOptions: 'slots=4,maxmem=8G',
    args: [
      '-device', 'pcie-root-port,id=rp0,chassis=1,slot=1',
      '-device', 'x3130-upstream,id=up0,bus=rp0',
      '-device', 'xio3130-downstream,id=dn0,bus=up0,chassis=2,slot=0',
      '-device', 'pcie-pci-bridge,id=pb0',
      '-device', 'lsi53c810,id=lsi0,bus=pb0,addr=1',
      ...userNet('n0'), '-device', 'rtl8139,netdev=n0,bus=pb0,addr=2',
      '-object', 'can-bus,id=cb0',
      '-device', 'ctucan_pci,canbus0=cb0,canbus1=cb0',
      '-device', 'kvaser_pci,canbus=cb0',
      '-device', 'tpci200,id=tpci0', '-chardev', 'null,id=oct0', '-device', 'ipoctal232,chardev0=oct0',
      '-device', 'qxl-vga',
      '-device', 'ati-vga',
      '-device', 'vmgenid',
      // last: a device given no bus goes on the newest PCI bus, and pxb-pcie's takes bridges only
      '-device', 'pxb-pcie,id=pxb0,bus_nr=128,bus=pcie.0',
      '-device', 'pcie-root-port,id=rp2,chassis=3,slot=0,bus=pxb0',
    ],
    disks: [
      { id: 'vd0', sizeMiB: 16, device: 'virtio-blk-pci,bus=rp2' },
      { id: 'nv0', sizeMiB: 16, device: 'nvme,serial=nv0,bus=dn0' },
      { id: 'lsi0d', sizeMiB: 16, device: 'scsi-hd,bus=lsi0.0' },
      { id: 'nvd0', sizeMiB: 64, device: 'nvdimm', memory: true },
      { id: 'pm0', sizeMiB: 64, device: 'virtio-pmem-pci,bus=pcie.0', memory: true },
    ],
  },
  'usb-deep': {
    name: 'usb-deep',
    description: 'pc with USB only storage behind hubs: a bulk-only USB disk two hubs deep on OHCI (full speed), one behind a hub on an NEC xHCI with a keyboard, a tablet on PIIX4 UHCI',
    type: 'pc',
    args: [
      '-device', 'pci-ohci,id=ohci0',
      '-device', 'usb-hub,bus=ohci0.0,port=1',
      '-device', 'usb-hub,bus=ohci0.0,port=1.1',
      '-device', 'nec-usb-xhci,id=xhci0',
      '-device', 'usb-hub,bus=xhci0.0,port=1',
      '-device', 'usb-kbd,bus=xhci0.0,port=1.2',
      '-device', 'piix4-usb-uhci,id=uhci0',
      '-device', 'usb-tablet,bus=uhci0.0',
    ],
    disks: [
      { id: 'usb0', sizeMiB: 16, device: 'usb-storage,bus=ohci0.0,port=1.1.1' },
      { id: 'usb1', sizeMiB: 16, device: 'usb-storage,bus=xhci0.0,port=1.1' },
    ],
  },
  microvm: {
    name: 'microvm',
    description: 'microvm, the minimal machine of lightweight VMs: no PCI, devices on virtio-mmio found through ACPI (virtio-blk, virtio-scsi with a disk, virtio-net, -rng, -balloon and -keyboard)',
    type: 'microvm',
    options: 'acpi=on,isa-serial=on,rtc=on',
    noTscReference: true,
    args: [
      ...userNet('n0'), '-device', 'virtio-net-device,netdev=n0',
      '-device', 'virtio-rng-device',
      '-device', 'virtio-scsi-device,id=vscsi0',
      '-device', 'virtio-balloon-device',
      '-device', 'virtio-keyboard-device',
    ],
    disks: [
      { id: 'vd0', sizeMiB: 16, device: 'virtio-blk-device' },
      { id: 'vs0d', sizeMiB: 16, device: 'scsi-hd,bus=vscsi0.0' },
    ],
  },
};

export const machineNames: readonly string[] = Object.keys(machines);

/** The machine called `name`, or an error that lists the known ones. */
export function getMachine(name: string): Machine {
  const m = Object.hasOwn(machines, name) ? machines[name] : undefined;
  if (!m) throw new Error(`unknown QEMU machine "${name}"; known: ${machineNames.join(', ')}`);
  return m;
}

/** The disk of `def` that holds the root: the one named `id`, else the first (none: no disk). */
export function rootTarget(def: Machine, id?: string): Machine['disks'][number] | undefined {
  if (id === undefined) return def.disks[0];
  const disk = def.disks.find((d) => d.id === id);
  if (!disk) throw new Error(`machine ${def.name} has no disk ${id} (its disks: ${def.disks.map((d) => d.id).join(', ') || 'none'})`);
  return disk;
}
