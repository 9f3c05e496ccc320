# Shared by resume.sh and snapshot.sh (sourced, not run): the campaign's name and
# the pattern that finds its running process.
campaign_name() {
    case "${1:-reproduction}" in
        reproduction|neurogym) echo "${1:-reproduction}" ;;
        *) echo "$(basename "$0"): unknown campaign '$1' (expected reproduction or neurogym)" >&2
           return 2 ;;
    esac
}
campaign_pattern() {  # campaign_pattern ROOT NAME
    echo "brian-noisy-rnn .* --out $1/campaigns/$2( |$)"
}
