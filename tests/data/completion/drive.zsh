# Drives vxm's zsh completion the way zsh does on TAB, in a real interactive zsh on a pty:
# drive.zsh COMPLETION-DIR LINE prints the matches offered for LINE (cursor at its end), one
# per line. compadd is wrapped to print what the completion system adds (the markers are
# written split so the terminal's echo of these lines never matches them).
zmodload zsh/zpty || exit 3
zpty z zsh -f -i
zpty -w z "PS1= PROMPT= RPROMPT=; unsetopt zle_bracketed_paste 2>/dev/null"
zpty -w z "fpath=(${(q)1} \$fpath); autoload -U compinit; compinit -u -D"
zpty -w z "bindkey '^I' complete-word"
zpty -w z "zstyle ':completion:*' insert-tab false"
zpty -w z "__vxm_done() { print -r -- '<<''END>>'; exit }"
zpty -w z "__vxm_start() { print -r -- '<<''BEGIN>>' }"
zpty -w z "compprefuncs=(__vxm_start); comppostfuncs=(__vxm_done)"
zpty -w z 'compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return; fi
  local -a __hits; builtin compadd -A __hits "$@"
  local h; for h in $__hits; do print -r -- "<<""M>>$h"; done
  builtin compadd "$@"
}'
zpty -w z "$2"$'\t'
local line out=0
while zpty -r z line; do
  line=${line//$'\r'/}
  [[ $line == *'<<END>>'* ]] && exit 0
  [[ $line == *'<<BEGIN>>'* ]] && out=1
  (( out )) && [[ $line == *'<<M>>'* ]] && print -r -- ${line#*<<M>>}
done
exit 4
