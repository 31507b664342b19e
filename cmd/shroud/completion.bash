# bash completion for shroud: source <(shroud completion bash)
# It asks shroud for the words that may follow (urfave/cli's
# --generate-bash-completion). After --, where the command to run begins,
# it offers file names only: asking would run that command.
_shroud_complete() {
  COMPREPLY=()
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local request=("${COMP_WORDS[@]:0:COMP_CWORD}") word
  for word in "${request[@]}"; do
    [[ "$word" == "--" ]] && return 1
  done
  [[ "$cur" == -* ]] && request+=("$cur")
  local words
  words=$("${request[@]}" --generate-bash-completion 2>/dev/null) || return 1
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -o bashdefault -o default -F _shroud_complete shroud
