# Shell helpers shared by the device's scripts (sourced, not run).

# cmdline_value KEY: the last KEY=VALUE on the kernel command line, empty when absent.
cmdline_value() {
    found=""
    for word in $(cat /proc/cmdline); do
        case "$word" in
            "$1="*) found="${word#*=}" ;;
        esac
    done
    echo "$found"
}
