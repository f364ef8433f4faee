//! The tiny guest of `.ci/libvirt.sh` (a kernel and a busybox initramfs, also as a disk image),
//! which the libvirt tests and `rovim demo --vim libvirt` boot: what it runs and how its serial
//! console is read.

/// The tiny guest's user data that makes it ping another: its address on the data net (eth1),
/// then a ping of `peer` every second, each answered or lost one reported on the console as
/// `ROVIM-PING <peer> ok|lost` (the SDN test and `rovim demo --vim libvirt` read those).
pub fn pinger(me: &str, peer: &str) -> String {
    format!(
        "ip addr add {me}/24 dev eth1; ip link set eth1 up\n\
         while :; do if ping -c1 -W1 {peer} >/dev/null 2>&1; then echo \"ROVIM-PING {peer} ok\"; \
         else echo \"ROVIM-PING {peer} lost\"; fi; sleep 1; done"
    )
}

/// A console's text up to its last line end: QEMU writes the console file as the guest prints,
/// so a read may end in the middle of a line (a test once read a guest's address as `10`).
pub fn whole_lines(text: &str) -> &str {
    &text[..text.rfind('\n').map_or(0, |end| end + 1)]
}

#[cfg(test)]
mod tests {
    use super::whole_lines;

    #[test]
    fn a_line_still_being_written_is_left_out() {
        assert_eq!(
            whole_lines("boot\r\nROVIM-GUEST eth0 52:54:00:77:01:0a 10"),
            "boot\r\n"
        );
        assert_eq!(
            whole_lines("ROVIM-PING 10.98.0.2 ok\n"),
            "ROVIM-PING 10.98.0.2 ok\n"
        );
        assert_eq!(whole_lines("ROVIM-PI"), "");
    }
}
