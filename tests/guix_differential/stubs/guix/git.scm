;;; Stand-in for (guix git), written for this test.  The real module pulls
;;; in the store; the definitions the rule depends on are NOT written here:
;;; they are read, at load time, from the Guix checkout's own guix/git.scm
;;; (the file named by GUIX_DIFFERENTIAL_GIT_SCM) and evaluated in this
;;; module, so that the commit order and the descent test are Guix's.
(define-module (guix git)
  #:use-module (git)
  #:use-module ((git bindings) #:select (libgit2->procedure raise-git-error))
  #:use-module ((git structs) #:select (oid->pointer))
  #:use-module ((git types) #:select (repository->pointer))
  #:use-module (guix sets)
  #:use-module (srfi srfi-1)
  #:use-module (ice-9 match)
  #:use-module ((system foreign) #:select (int))
  #:export (commit-closure
            commit-difference
            commit-descendant?
            false-if-git-not-found))

;; Older Guile-Git (Debian's 0.5) lacks graph-descendant?: call libgit2's
;; git_graph_descendant_of, as newer Guile-Git does.
(unless (defined? 'graph-descendant?)
  (let ((proc (libgit2->procedure int "git_graph_descendant_of" '(* * *))))
    (module-define! (current-module) 'graph-descendant?
                    (lambda (repository commit ancestor)
                      (let ((result (proc (repository->pointer repository)
                                          (oid->pointer commit)
                                          (oid->pointer ancestor))))
                        (cond ((= result 1) #t)
                              ((= result 0) #f)
                              (else (raise-git-error result))))))))

(define %wanted
  '(false-if-git-not-found commit-closure commit-difference commit-descendant?))

(define (definition-name form)
  (match form
    (((or 'define 'define* 'define-syntax-rule 'define-syntax)
      ((? symbol? name) . _) . _)
     name)
    (((or 'define 'define* 'define-syntax) (? symbol? name) . _)
     name)
    (_ #f)))

(let ((file (getenv "GUIX_DIFFERENTIAL_GIT_SCM")))
  (unless file
    (error "GUIX_DIFFERENTIAL_GIT_SCM is not set"))
  (let ((found
         (call-with-input-file file
           (lambda (port)
             (let loop ((found '()))
               (let ((form (read port)))
                 (if (eof-object? form)
                     found
                     (let ((name (definition-name form)))
                       (if (memq name %wanted)
                           (begin
                             (eval form (current-module))
                             (loop (cons name found)))
                           (loop found))))))))))
    (for-each (lambda (name)
                (unless (memq name found)
                  (error "not found in Guix's guix/git.scm:" name)))
              %wanted)))
