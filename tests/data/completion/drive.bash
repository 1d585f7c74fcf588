# Drives vxm's bash completion the way bash does on TAB: drive.bash COMPLETION-FILE LINE
# prints COMPREPLY, one per line, for LINE with the cursor at its end.
# shellcheck source=/dev/null
source "$1" || exit 3
COMP_LINE=$2
COMP_POINT=${#COMP_LINE}
read -r -a COMP_WORDS <<<"$COMP_LINE"
[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
_vxm vxm "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}" || exit 4
printf '%s\n' "${COMPREPLY[@]}"
