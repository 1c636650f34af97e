# fish completion for ig: ig completion fish | source, or save it as
# ~/.config/fish/completions/ig.fish. ig itself says what may come next:
# `ig __complete fish WORD...` prints the candidates for the last WORD, one a
# line, a tab and a description after some; ":files" asks for file names.
function __ig_complete
    set -l tokens (commandline -opc)
    set -l cur (commandline -ct)
    set -l prog $tokens[1]
    set -e tokens[1]
    set -l out ($prog __complete fish $tokens $cur 2>/dev/null)
    if test (count $out) -gt 0; and test "$out[-1]" = ":files"
        __fish_complete_path $cur
        return
    end
    printf '%s\n' $out
end
complete -c ig -f -a '(__ig_complete)'
