#compdef shroud
# zsh completion for shroud: save as _shroud in a directory of $fpath, or
# source <(shroud completion zsh) after compinit. It asks shroud for the
# words that may follow (urfave/cli's --generate-bash-completion). After
# --, where the command to run begins, it offers file names only: asking
# would run that command.
_shroud() {
  local -a request opts
  request=("${words[@]:0:$((CURRENT-1))}")
  if (( ${request[(Ie)--]} )); then
    _files
    return
  fi
  [[ "${words[CURRENT]}" == -* ]] && request+=("${words[CURRENT]}")
  opts=("${(@f)$("${request[@]}" --generate-bash-completion 2>/dev/null)}")
  if [[ -n "${opts[1]}" ]]; then
    _describe 'shroud' opts
  else
    _files
  fi
}
if [[ "${funcstack[1]}" == "_shroud" ]]; then
  _shroud "$@"
else
  compdef _shroud shroud
fi
