#!/bin/busybox sh
# /init of the deb-test initramfs: load the modules the cloud kernel builds
# as =m (virtio_blk), mount the ext4 root and hand over to systemd.
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /newroot
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
for m in /modules/*.ko; do
    [ -e "$m" ] && insmod "$m"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do
    sleep 0.1
    i=$((i + 1))
done
if ! mount -t ext4 -o rw /dev/vda /newroot; then
    echo "@@deb-check root FAIL cannot mount /dev/vda"
    poweroff -f
fi
umount /dev /sys /proc
exec switch_root /newroot /sbin/init
