# bash completion for fleetcrypt — subcommands, their flags and values, and
# campaign ids (read from `fleetcrypt status`, which lists every campaign;
# skipped silently when Redis is not reachable within 2 s).
# Install: source it from ~/.bashrc, or copy it to
# /usr/share/bash-completion/completions/fleetcrypt.

_fleetcrypt_campaigns()
{
    local bin=${COMP_WORDS[0]}
    command -v "$bin" >/dev/null 2>&1 || return 0
    if command -v timeout >/dev/null 2>&1; then
        timeout 2 "$bin" status 2>/dev/null | awk 'NR > 1 { print $1 }'
    else
        "$bin" status 2>/dev/null | awk 'NR > 1 { print $1 }'
    fi
}

# The strategies and their options come from the binary's descriptors
# (`fleetcrypt strategies --completion`: "strategy NAME", "value --FLAG V...",
# "bool --FLAG", "flag --FLAG"), so a new strategy completes without an edit here.
_fleetcrypt_strategy_words()
{
    local bin=${COMP_WORDS[0]}
    command -v "$bin" >/dev/null 2>&1 || return 0
    "$bin" strategies --completion 2>/dev/null
}

_fleetcrypt()
{
    local cur prev cmd i
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    local commands="submit status top wait approve rollback finalize pause resume abort retry logs report retire strategies help"
    # the CLI's common flags (lib/cfg.c's table: `fleetcrypt --help` lists them)
    local common="--redis-url --key-prefix --node-id --region --profile --help --version"

    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -*) ;;
            *) cmd=${COMP_WORDS[i]}; break ;;
        esac
    done
    if [[ -z $cmd ]]; then
        COMPREPLY=($(compgen -W "$commands --help --version" -- "$cur"))
        return 0
    fi

    local sw=""
    [[ $cmd == submit ]] && sw=$(_fleetcrypt_strategy_words)
    # values of options that take one
    if [[ $cmd == submit ]]; then
        if [[ $prev == --strategy ]]; then
            COMPREPLY=($(compgen -W "$(awk '$1 == "strategy" { print $2 }' <<<"$sw")" -- "$cur"))
            return 0
        fi
        local vals
        vals=$(awk -v f="$prev" '$1 == "value" && $2 == f { $1 = ""; $2 = ""; print }' <<<"$sw")
        if [[ -n $vals ]]; then
            COMPREPLY=($(compgen -W "$vals" -- "$cur"))
            return 0
        fi
    fi
    case $prev in
        --format) COMPREPLY=($(compgen -W "json table csv html" -- "$cur")); return 0 ;;
        -o | --output)
            # status, top, logs: json|table; report also csv, html or a FILE (a name with '.' or '/')
            if [[ $cmd == report ]]; then
                COMPREPLY=($(compgen -W "json table csv html" -- "$cur") $(compgen -f -- "$cur"))
            else
                COMPREPLY=($(compgen -W "json table" -- "$cur"))
            fi
            return 0 ;;
        --file) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        --db-secret) COMPREPLY=($(compgen -W "rds-managed file:" -- "$cur")); return 0 ;;
        --campaign | --kms-key | --max-parallel | --region | --select | --interval | \
            --retention-days | --wait-timeout | --redis-url | --key-prefix | --node-id | --profile)
            return 0 ;;
    esac

    # a strategy option that takes a free-form value
    awk -v f="$prev" '$1 == "flag" && $2 == f { found = 1 } END { exit !found }' <<<"$sw" && return 0

    local flags=""
    case $cmd in
        submit)
            flags="--campaign --kms-key --strategy --max-parallel --region --keep-snapshots --yes --dry-run
                   --file --select $(awk '$1 != "strategy" { print $2 }' <<<"$sw" | sort -u)" ;;
        status) flags="--json --output -o" ;;
        strategies) flags="--json --markdown --completion" ;;
        top) flags="--once --interval --output -o" ;;
        wait) flags="--for --timeout --interval" ;;
        report) flags="--format --output -o --select" ;;
        retire) flags="--retention-days --force --yes --dry-run --wait-timeout" ;;
        logs) flags="--follow -f --output -o" ;;
        abort) flags="--yes --dry-run" ;;
        approve | rollback | finalize | pause | resume | retry) flags="" ;;
        help) COMPREPLY=($(compgen -W "$commands" -- "$cur")); return 0 ;;
        *) return 0 ;;
    esac

    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$flags $common" -- "$cur"))
        return 0
    fi
    # the first positional argument of these is a campaign id
    case $cmd in
        status | top | wait | approve | rollback | finalize | pause | resume | abort | retry | logs | report | retire)
            local npos=0
            for ((i = i + 1; i < COMP_CWORD; i++)); do
                case ${COMP_WORDS[i]} in
                    -*) ;;
                    *) case ${COMP_WORDS[i-1]} in
                           --format | --output | -o | --interval | --retention-days | --wait-timeout | --redis-url | --region | --profile | \
                               --key-prefix | --node-id) ;;
                           *) npos=$((npos + 1)) ;;
                       esac ;;
                esac
            done
            if ((npos == 0)); then
                COMPREPLY=($(compgen -W "$(_fleetcrypt_campaigns)" -- "$cur"))
            fi
            ;;
        submit)
            [[ $cur == "" || $cur == - ]] && COMPREPLY=($(compgen -W "-" -- "$cur")) ;;
    esac
    return 0
}

complete -F _fleetcrypt fleetcrypt
