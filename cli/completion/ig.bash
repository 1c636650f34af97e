# bash completion for ig: source <(ig completion bash)
# ig itself says what may come next: `ig __complete bash WORD...` prints the
# candidates for the last WORD (the word under the cursor), one a line, a
# tab and a description after some; ":files" asks for file names.
_ig_complete() {
    local cur=${COMP_WORDS[COMP_CWORD]} line
    local -a out
    COMPREPLY=()
    mapfile -t out < <("${COMP_WORDS[0]}" __complete bash "${COMP_WORDS[@]:1:COMP_CWORD}" 2>/dev/null)
    if [[ ${#out[@]} -gt 0 && ${out[${#out[@]}-1]} == :files ]]; then
        [[ $cur == = ]] && cur=
        compopt -o filenames 2>/dev/null
        mapfile -t COMPREPLY < <(compgen -f -- "$cur")
        return 0
    fi
    for line in "${out[@]}"; do
        COMPREPLY+=("${line%%$'\t'*}")
    done
    # A value that goes on (columns=, a list ending in a comma): no space after it.
    if [[ ${#COMPREPLY[@]} -eq 1 && ${COMPREPLY[0]} == *[=,] ]]; then
        compopt -o nospace 2>/dev/null
    fi
    return 0
}
complete -F _ig_complete ig
