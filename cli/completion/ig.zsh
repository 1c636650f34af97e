#compdef ig
# zsh completion for ig: source <(ig completion zsh) after compinit, or save
# it as _ig in a directory of $fpath. ig itself says what may come next:
# `ig __complete zsh WORD...` prints the candidates for the last WORD, one a
# line, a tab and a description after some; ":files" asks for file names.
_ig() {
    local -a lines names descs
    local line name desc
    lines=("${(@f)$(${words[1]} __complete zsh "${(@)words[2,CURRENT]}" 2>/dev/null)}")
    lines=(${lines:#})
    if [[ ${lines[-1]} == :files ]]; then
        _files
        return
    fi
    for line in $lines; do
        name=${line%%$'\t'*}
        desc=${line#*$'\t'}
        [[ $desc == $line ]] && desc=
        names+=("$name")
        descs+=("$name${desc:+  -- $desc}")
    done
    (( $#names )) || return 1
    if [[ $names[-1] == *[=,] && $#names -eq 1 ]]; then
        compadd -S '' -U -l -d descs -a names
    else
        compadd -U -l -d descs -a names
    fi
}
if [[ ${funcstack[1]} == _ig ]]; then
    _ig "$@"
else
    compdef _ig ig
fi
